"""What one poll result means for its feed: health, the next poll time and why, what to parse."""

from __future__ import annotations

import hashlib

import redis

from notifier.alerts import notices
from notifier.feeds import cadence, items, websub
from notifier.feeds.fetch import FetchError, FetchResult
from notifier.feeds.parse import ParsedFeed, parse_feed
from notifier.models import Feed
from notifier.settings import Settings
from notifier.stories import store


def record_error(
    r: redis.Redis, feed: Feed, error: FetchError, settings: Settings, now: float, writes=None
) -> None:
    """Count the error, back off, and disable the feed once it has failed long enough.
    `writes`: a pipeline or store.FeedWrites to queue the usual update on (disabling is written
    at once)."""
    errors = feed.errors + 1
    first = feed.first_error_at or now
    delay, reason = cadence.backoff(max(feed.interval, settings.min_interval), errors, error.retry_after)
    changes = {
        "errors": errors,
        "last_error": str(error),
        "last_error_kind": error.kind,
        "first_error_at": first,
        "interval_reason": reason,
    }
    gone = error.status == 410
    if gone or (errors >= settings.disable_after_errors and now - first >= settings.disable_after_seconds):
        why = "410 Gone" if gone else f"{errors} errors in a row since {notices.when(first)}"
        changes.update(enabled=False, interval_reason=f"disabled: {why}")
        store.update_feed(r, feed.id, **changes)
        r.zrem("feeds:due", feed.id)
        notices.feed_disabled(r, store.get_feed(r, feed.id), why, settings)
        return
    store.update_feed(r, feed.id, next_poll=now + cadence.jittered(delay), pipe=writes, **changes)


def record_success(
    r: redis.Redis,
    feed: Feed,
    result: FetchResult,
    settings: Settings,
    now: float,
    body_hash: str | None,
    parsed: ParsedFeed | None = None,
    writes=None,
    websub_state: tuple | None = None,
    item_digests: str | None = None,
) -> None:
    """`writes`: a pipeline or store.FeedWrites to queue this feed's update on; `websub_state`:
    read beforehand; `item_digests`: of the body's items (see `parse_if_changed`), None to keep
    what is stored."""
    changes = {
        "last_success": now,
        "errors": 0,
        "first_error_at": None,
        "last_error": None,
        "last_error_kind": None,
        "etag": result.etag or feed.etag,
        "last_modified": result.last_modified or feed.last_modified,
    }
    if body_hash:
        changes["body_hash"] = body_hash
    if item_digests is not None:
        changes["item_digests"] = item_digests
    if feed.watched_since is None:
        changes["watched_since"] = now
    if result.permanent_redirect and result.permanent_redirect != feed.url:
        changes["url"] = result.permanent_redirect
        r.hdel("feeds:byurl", feed.url)
    adaptive_interval, adaptive_reason = feed.adaptive_interval, "adaptive"
    if parsed is not None:
        adaptive_interval, adaptive_reason = observe_publishing(r, feed, parsed, settings, now)
        changes["adaptive_interval"] = adaptive_interval
    interval, reason = cadence.after_success(
        forced=feed.forced,
        interval=feed.interval,
        adaptive_interval=adaptive_interval,
        adaptive_reason=adaptive_reason,
        server_wait=cadence.max_age(result.cache_control, result.expires, now),
        low=settings.min_interval,
    )
    interval, reason = websub.safety_net(r, feed, interval, reason, settings, now, known=websub_state)
    changes["interval_reason"] = reason
    # only what moved: a steady 304 writes two fields, not nine (most polls are steady 304s)
    changes = {name: value for name, value in changes.items() if getattr(feed, name) != value}
    # a server's max-age or a hub's lease counts from its answer, now; our own rhythm from the due time
    due = (
        now + cadence.jittered(interval)
        if reason.startswith("server")
        else cadence.next_due(feed.next_poll, interval, now)
    )
    store.update_feed(r, feed.id, next_poll=due, pipe=writes, **changes)


def observe_publishing(
    r: redis.Redis, feed: Feed, parsed: ParsedFeed, settings: Settings, now: float
) -> tuple[float, str]:
    """Remember when each story appeared (its date, or when we first saw it) over the last week."""
    key = f"feed:{feed.id}:seen"
    seen: dict[str, float] = {}
    for story in parsed.stories:
        published = story.published.timestamp() if story.published else None
        if published and now - cadence.WEEK <= published <= now:
            seen[story.id] = published
        elif feed.baseline_done:  # undated items of the first poll would all look brand new
            seen[story.id] = now
    pipe = r.pipeline(transaction=False)
    if seen:
        pipe.zadd(key, seen, nx=True)
    pipe.zremrangebyscore(key, "-inf", now - cadence.WEEK)
    pipe.expire(key, cadence.WEEK)
    pipe.zrange(key, 0, -1, withscores=True)
    times = [score for _, score in pipe.execute()[-1]]
    return cadence.adaptive(
        times,
        now,
        settings.min_interval,
        max(settings.max_interval, settings.min_interval),
        watched_since=feed.watched_since or now,
        default=feed.interval,
    )


def body_changed(feed: Feed, result: FetchResult | FetchError) -> bool:
    """A body to parse: a 2xx whose bytes differ from what we parsed last time."""
    if not isinstance(result, FetchResult) or result.status == 304 or result.body is None:
        return False
    return hashlib.sha256(result.body).hexdigest() != feed.body_hash


def parse_if_changed(feed: Feed, result: FetchResult) -> tuple[ParsedFeed | None, str | None, str | None]:
    """Parse what is new in the body: (parsed or None, body hash, digests of its items to keep).

    A body byte-for-byte what we read last time is not parsed (a 200 without ETag); otherwise only
    the items this feed has not shown before reach feedparser, and none at all when every item is
    known. The first poll, a body the cut might misread and a feed whose last body was odd are
    read whole. Digests are kept only of a body read cleanly ("" forgets them), so a feed that
    turns odd is read whole until it is clean again."""
    if result.status == 304 or result.body is None:
        return None, None, None
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == feed.body_hash:
        return None, body_hash, None
    split = items.split_items(result.body, result.content_type)
    known = items.known_digests(feed.item_digests) if feed.baseline_done and split else set()
    body = items.unseen(split, known) if known else result.body
    if body is None:
        return None, body_hash, items.stored_digests(split)
    parsed = _read(feed, result, body)
    if parsed.bozo and body is not result.body:  # the cut reads oddly: the whole decides
        parsed = _read(feed, result, result.body)
    return parsed, body_hash, "" if parsed.bozo else items.stored_digests(split)


def _read(feed: Feed, result: FetchResult, body: bytes) -> ParsedFeed:
    return parse_feed(
        body, feed_id=feed.id, url=result.final_url or feed.url, content_type=result.content_type
    )
