"""What the fast path's two senders share: the message they are handed and the one error type.

Kept apart from `fastpath.py` so the senders never import the module that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from apprise.plugins.base import NotifyBase

from notifier.deliver import DeliveryError
from notifier.redact import redact_text


@dataclass(frozen=True)
class Message:
    """A job as Apprise would hand it to the plugin's send(): format resolved, body converted."""

    plugin: NotifyBase
    title: str
    body: str
    body_format: str
    headers: dict
    where: str  # scheme://host, for error messages


def failed(message: str, *, permanent: bool = False, retry_after: float | None = None) -> DeliveryError:
    """The adapter's one error type, plus how long the service asked us to wait (429/503)."""
    error = DeliveryError(redact_text(message), permanent=permanent)
    error.retry_after = retry_after
    return error
