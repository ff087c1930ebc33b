"""What one poll result means for its feed: new state, next poll time, stories to claim."""

from __future__ import annotations

import hashlib
import random
import time

import redis

from notifier import store
from notifier.fetch import FetchError, FetchResult
from notifier.models import Feed
from notifier.parse import ParsedFeed, parse_feed
from notifier.settings import Settings

MAX_BACKOFF = 6 * 3600


def jittered(seconds: float) -> float:
    """Spread polls by up to 10 % so feeds added together don't stay in lockstep."""
    return seconds * random.uniform(0.95, 1.05)


def record_error(r: redis.Redis, feed: Feed, error: FetchError, settings: Settings, now: float) -> None:
    errors = feed.errors + 1
    delay = min(feed.interval * 2 ** min(errors - 1, 10), max(MAX_BACKOFF, feed.interval))
    if error.retry_after:
        delay = max(delay, error.retry_after)
    changes = {
        "errors": errors,
        "last_error": str(error),
        "last_error_kind": error.kind,
        "first_error_at": feed.first_error_at or now,
        "interval_reason": f"backoff after {errors} errors",
    }
    if error.status == 410:
        changes.update(enabled=False, interval_reason="disabled: 410 Gone")
        store.update_feed(r, feed.id, **changes)
        r.zrem("feeds:due", feed.id)
        return
    store.update_feed(r, feed.id, **changes)
    store.schedule_feed(r, feed.id, now + jittered(delay))


def record_success(
    r: redis.Redis, feed: Feed, result: FetchResult, settings: Settings, now: float, body_hash: str | None
) -> None:
    changes = {
        "last_success": now,
        "errors": 0,
        "first_error_at": None,
        "last_error": None,
        "last_error_kind": None,
        "etag": result.etag or feed.etag,
        "last_modified": result.last_modified or feed.last_modified,
        "interval_reason": "as configured",
    }
    if body_hash:
        changes["body_hash"] = body_hash
    if result.permanent_redirect and result.permanent_redirect != feed.url:
        changes["url"] = result.permanent_redirect
        r.hdel("feeds:byurl", feed.url)
    store.update_feed(r, feed.id, **changes)
    interval = max(feed.interval, settings.min_interval)
    store.schedule_feed(r, feed.id, now + jittered(interval))


def parse_if_changed(feed: Feed, result: FetchResult) -> tuple[ParsedFeed | None, str | None]:
    """Parse the body unless it is byte-for-byte what we parsed last time (a 200 without ETag)."""
    if result.status == 304 or result.body is None:
        return None, None
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == feed.body_hash:
        return None, body_hash
    parsed = parse_feed(
        result.body, feed_id=feed.id, url=result.final_url or feed.url, content_type=result.content_type
    )
    return parsed, body_hash


def next_poll_now(r: redis.Redis, feed_id: str) -> None:
    store.schedule_feed(r, feed_id, time.time())
