"""The domain's two answers to a request it will not carry out.

Domain functions raise these (and `stories.store.NotFound`) with one line that says why; the
command line turns them into exit code 2, the HTTP API into a JSON error (422, 409, 404).
Nothing stored has changed when one is raised.
"""

from __future__ import annotations


class Refused(ValueError):
    """Bad input: a URL the guard refuses, an expression that does not parse, a rule broken."""


class Conflict(Refused):
    """The input is fine but clashes with what is stored: a name taken, a topic still followed."""


class Throttled(Refused):
    """Asked too often: the same again will be accepted after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
