"""What the services answered: HTTP status and Retry-After of each send, which Apprise does not report.

Apprise's `notify()` says only True or False, so "slow down for 30 s" (429), "this webhook is
gone" (404/410) and "this token is revoked" (401/403) all look alike. Every HTTP plugin of
Apprise 2.x calls `requests.post/get/request(...)`; those build a `requests.Session` and its
`send()` performs the exchange, and Apprise's own sessions (`HTTPPolicySession`, its tracked
session) subclass `Session` and call `super().send()`. So `requests.Session.send` is the one
seam every Apprise HTTP exchange passes through.

`install()` wraps it once per process. The wrapper passes the request and its arguments on
untouched and returns the very response object it got; only inside a `watch()` does it note that
response's status and Retry-After, and it never lets a failure of its own reach the caller. What
it notes goes to a ContextVar, so a watch in one thread never sees another thread's sends; Apprise
copies the caller's context into the threads it notifies from (`submit_with_context`), so a send
it fans out is still seen by the watch that started it. Redirects run `send()` again inside
`send()`: only the outermost call records, the whole chain in order from `response.history`.

Telegram puts its wait in the JSON body (`parameters.retry_after`) and not in a header, Discord
in both: for a 429 whose body `requests` has already read (anything not streamed), we look there
too. Channels that are not HTTP (SMTP, MQTT) leave `seen.status` at None.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import requests

from notifier.alerts.channels.base import UNAVAILABLE, noting_in
from notifier.core.retry_after import parse_retry_after

__all__ = ["PERMANENT", "Seen", "install", "watch"]

log = logging.getLogger(__name__)

PERMANENT = frozenset({401, 403, 404, 410})  # token refused or revoked; webhook deleted
MAX_BODY = 64 * 1024  # a rate-limit body is a few hundred bytes; never parse a page


@dataclass
class Seen:
    """Every HTTP response one watched send received, in order: (status, Retry-After seconds)."""

    responses: list[tuple[int, float | None]] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """The last response's status: the one Apprise judged the send by."""
        return self.responses[-1][0] if self.responses else None

    @property
    def retry_after(self) -> float | None:
        """The longest wait any response asked for, in seconds; None if none asked."""
        waits = [wait for _, wait in self.responses if wait is not None]
        return max(waits) if waits else None

    @property
    def unavailable(self) -> bool:
        """The service (or its gateway) is down: the alert itself is fine."""
        return self.status in UNAVAILABLE

    @property
    def permanent(self) -> bool:
        """The service said the URL itself is wrong: retrying cannot help."""
        return self.status in PERMANENT


_current: contextvars.ContextVar[Seen | None] = contextvars.ContextVar("httpwatch_seen", default=None)
_sending: contextvars.ContextVar[bool] = contextvars.ContextVar("httpwatch_sending", default=False)
_install_lock = threading.Lock()


def install() -> None:
    """Wrap `requests.Session.send` once per process; calling it again does nothing."""
    with _install_lock:
        original = requests.Session.send
        if getattr(original, "_httpwatch", False):
            return

        @functools.wraps(original)
        def send(self, request, **kwargs):
            seen = _current.get()
            if seen is None or _sending.get():
                return original(self, request, **kwargs)
            token = _sending.set(True)
            try:
                response = original(self, request, **kwargs)
            finally:
                _sending.reset(token)
            _record(seen, response, streamed=bool(kwargs.get("stream")))
            return response

        send._httpwatch = True
        requests.Session.send = send


def watch() -> AbstractContextManager[Seen]:
    """Note every HTTP response received inside this block (and in threads Apprise starts from it)."""
    install()
    return noting_in(_current, Seen())


def _record(seen: Seen, response: requests.Response, streamed: bool) -> None:
    try:
        for hop in [*response.history, response]:
            # list.append is atomic: Apprise's worker threads may share one Seen
            seen.responses.append((hop.status_code, _retry_after(hop, streamed or hop is not response)))
    except Exception:  # noqa: BLE001 - noting a response must never break the send
        log.debug("could not note an HTTP response", exc_info=True)


def _retry_after(response: requests.Response, streamed: bool) -> float | None:
    if response.status_code < 400:
        return None
    header = response.headers.get("Retry-After")
    if header is not None:
        return parse_retry_after(header)
    if response.status_code != 429 or streamed:
        return None
    return _body_retry_after(response)


def _body_retry_after(response: requests.Response) -> float | None:
    """Telegram: {"parameters": {"retry_after": 35}}; Discord: {"retry_after": 1.5}."""
    if "json" not in response.headers.get("Content-Type", "") or len(response.content) > MAX_BODY:
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    params = data.get("parameters")
    value = params.get("retry_after") if isinstance(params, dict) else data.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return parse_retry_after(str(value))
