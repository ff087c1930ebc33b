"""What every channel shares: the one error type, Apprise's parse of a URL, and the message
the pooled senders are handed.

Apprise's parse is the costliest step of a webhook alert after the send itself (LIMITS.md): every
reader (rendering, pacing, the pooled path) shares one parse per URL per process through
`plugin_for`. Sending through Apprise takes a fresh object instead (`fresh_plugin`), because
Apprise paces a reused e-mail object to one message every few seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import apprise
from apprise.plugins.base import NotifyBase

from notifier.core.redact import redact, redact_text
from notifier.core.retry_after import parse_retry_after

log = logging.getLogger(__name__)
Noted = TypeVar("Noted")


@contextmanager
def noting_in(current: ContextVar, seen: Noted) -> Iterator[Noted]:
    """`seen` is `current`'s value inside this block, and in the threads Apprise starts from it
    (it copies the caller's context): where httpwatch and smtpwatch note what a send met."""
    token = current.set(seen)
    try:
        yield seen
    finally:
        current.reset(token)


class DeliveryError(Exception):
    """A send failed. `permanent`: retrying cannot help (bad URL, refused host, revoked token).
    `retry_after`: the service asked us to wait this many seconds (429/503).
    `unavailable`: the provider is down (no connection, no answer in time, 502/503/504): nothing
    wrong with the alert, so it is retried until it is too old (NOTIFIER_DELIVERY_MAX_AGE)."""

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        retry_after: float | None = None,
        unavailable: bool = False,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.unavailable = unavailable
        self.deferred = False  # not tried at all: an earlier send of the batch was told to wait


UNAVAILABLE = frozenset({502, 503, 504})  # the provider (or the gateway before it) is down


def failed(
    message: str, *, permanent: bool = False, retry_after: float | None = None, unavailable: bool = False
) -> DeliveryError:
    """A DeliveryError whose message is free of secrets."""
    return DeliveryError(redact_text(message), permanent, retry_after, unavailable)


# Every alert to a URL not seen lately pays one parse, and most of Apprise's is spent on log lines
# nobody reads: a masked copy of the URL for trace lines (secure_logging; our RedactingFilter masks
# every record of every library anyway, notifier.core.redact) and, when it catches exceptions
# itself, the URL rebuilt for a debug line. Without both a json:// parse costs ~60 µs, not ~400.
_ASSET = apprise.AppriseAsset(secure_logging=False)


def http_answer(
    status: int, retry_after: str | None, where: str, permanent: frozenset
) -> DeliveryError | None:
    """What an HTTP answer to one of our own sends means: None for 2xx, else the error, permanent
    for a status in `permanent`, with the wait a 429/503 asked for."""
    if 200 <= status < 300:
        return None
    wait = parse_retry_after(retry_after) if retry_after and status in (429, 503) else None
    down, refused = status in UNAVAILABLE, status in permanent
    return failed(f"http {status} from {where}", permanent=refused, retry_after=wait, unavailable=down)


def fresh_plugin(url: str) -> NotifyBase | None:
    """Apprise's plugin for `url`, a new object; None when Apprise cannot use the URL."""
    try:
        return apprise.Apprise.instantiate(url, asset=_ASSET, suppress_exceptions=False)
    except Exception:  # noqa: BLE001 - what Apprise's suppress_exceptions does, minus its debug line
        log.warning("Apprise cannot use the notification URL %s", redact(url))
        return None


@lru_cache(maxsize=2048)
def plugin_for(url: str) -> NotifyBase | None:
    """The shared parse of `url`, for reading its settings. Never send with it."""
    return fresh_plugin(url)


@dataclass(frozen=True)
class Message:
    """A job as Apprise would hand it to the plugin's send(): format resolved, body converted."""

    plugin: NotifyBase
    title: str
    body: str
    body_format: str
    headers: dict
    where: str  # scheme://host, for error messages
