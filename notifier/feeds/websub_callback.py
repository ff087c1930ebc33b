"""WebSub, what the hub sends to our callback: the intent check (GET) and signed pushes (POST).

Only an intent we asked for and still wait on is confirmed, and only a push signed with the
subscription's own secret is taken in; everything else is answered and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

import redis

from notifier.feeds import intake
from notifier.feeds.websub import DENIED_SECONDS, LEASE_SECONDS, forget, load, save
from notifier.settings import Settings
from notifier.stories import store

log = logging.getLogger(__name__)

_DIGESTS = {name: getattr(hashlib, name) for name in ("sha1", "sha256", "sha384", "sha512")}


def verify_intent(r: redis.Redis, feed_id: str, params: dict, now: float | None = None) -> str | None:
    """The hub's GET to our callback: the challenge to echo, "" for a denial noted, None for 404.

    Only an intent we asked for and still wait on is confirmed, so nobody else can end our
    subscription or stretch its lease."""
    current = load(r, feed_id)
    mode, challenge = params.get("hub.mode"), params.get("hub.challenge")
    if current is None or params.get("hub.topic") != current.topic:
        return None
    now = now or time.time()
    if mode == "denied":
        reason = f"denied by the hub: {params.get('hub.reason') or 'no reason given'}"[:300]
        save(r, feed_id, state="denied", pending="", renew_at=now + DENIED_SECONDS, last_error=reason)
        log.warning("feed %s: websub %s", feed_id, reason)
        return ""
    if not challenge or mode not in ("subscribe", "unsubscribe") or mode != current.pending:
        return None
    if mode == "unsubscribe":
        forget(r, feed_id)
        return challenge
    lease_until, renew_at = lease_times(params.get("hub.lease_seconds"), now)
    save(r, feed_id, state="verified", pending="", lease_until=lease_until, renew_at=renew_at, last_error="")
    return challenge


def lease_times(granted: str | None, now: float) -> tuple[float, float]:
    """(lease end, when to renew). We rely on no more than we asked for: renewing early is harmless."""
    try:
        lease = min(max(int(granted or LEASE_SECONDS), 1), LEASE_SECONDS)
    except ValueError:
        lease = LEASE_SECONDS
    return now + lease, now + lease - min(lease * 0.1, 24 * 3600)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature: `method=hex` HMAC of the raw body with our secret, compared in constant time."""
    method, _, given = (header or "").strip().partition("=")
    digest = _DIGESTS.get(method.strip().lower())
    if digest is None or not given or not secret:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def accept_push(
    r: redis.Redis,
    feed_id: str,
    body: bytes,
    signature_header: str | None,
    content_type: str | None,
    settings: Settings,
    on_new: Callable[[list[str]], None] | None = None,
) -> list[str]:
    """A hub's content distribution: the new story ids, or [] when it is not for us to process
    (no verified subscription, unsigned, wrongly signed). The hub gets a 2xx either way (§8).

    With `on_new` the new stories are handed on at once (the API enqueues their fan-out) and the
    tick takes them only after a lease, as after a poll; without it, or if it fails, at the next tick."""
    current = load(r, feed_id)
    if current is None or current.state != "verified":
        return []
    if not signature_ok(current.secret, body, signature_header):
        why = "a wrong" if signature_header else "no"
        log.warning("feed %s: websub push ignored: %s signature", feed_id, why)
        return []
    try:
        feed = store.get_feed(r, feed_id)
    except store.NotFound:
        return []

    if not feed.enabled:
        return []
    later = time.time() + settings.lease_seconds if on_new else None
    new = intake.absorb_body(r, feed, body, content_type, settings, pending_at=later)
    if new and on_new:
        try:
            on_new(new)
        except Exception as exc:  # noqa: BLE001 - not handed on: the next tick takes them instead
            log.warning("feed %s: pushed stories wait for the tick: %s", feed_id, exc)
            r.zadd("stories:pending", dict.fromkeys(new, time.time()), xx=True)
    return new
