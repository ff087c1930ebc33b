"""The whole flow, one readable step at a time:

beat tick -> claim due feeds -> fetch (batched, concurrent) -> parse -> claim stories
-> match topics -> claim deliveries -> render -> send.

Each function takes ids, works against Redis and is safe to run twice. The Celery tasks in
`workers/tasks.py` only call these and enqueue what they return.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from functools import lru_cache

import redis

from notifier import dedup, ledger, match, notices, store
from notifier.deliver import DeliveryError, send
from notifier.fetch import FetchError, FetchLimits, FetchRequest, fetch_many
from notifier.parse import parse_feed
from notifier.polling import parse_if_changed, record_error, record_success
from notifier.redact import redact
from notifier.schedule import claim_due
from notifier.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Due:
    feeds: list[str]
    stories: list[str]
    deliveries: list[str]


def tick(r: redis.Redis, settings: Settings, now: float | None = None) -> Due:
    """Claim everything that is due. Claims are atomic: two beats or ticks never share work."""
    now = now or time.time()
    lease = now + settings.lease_seconds
    r.set("heartbeat:tick", now)
    return Due(
        feeds=claim_due(r, "feeds:due", now, lease),
        stories=claim_due(r, "stories:pending", now, lease),
        deliveries=claim_due(r, "deliveries:due", now, lease),
    )


def poll_feeds(r: redis.Redis, feed_ids: list[str], settings: Settings) -> list[str]:
    """Fetch a batch of feeds concurrently; return the ids of the stories that are new."""
    feeds = [f for f in store.get_feeds(r, feed_ids) if f.enabled]
    requests = [FetchRequest(f.url, etag=f.etag, last_modified=f.last_modified) for f in feeds]
    results = asyncio.run(fetch_many(requests, FetchLimits.from_settings(settings))) if feeds else []
    new: list[str] = []
    for feed, result in zip(feeds, results, strict=True):
        new += absorb(r, feed, result, settings)
    return new


def absorb(r: redis.Redis, feed, result, settings: Settings) -> list[str]:
    """Take one feed's fetch result into the store; return the new story ids."""
    now = time.time()
    if isinstance(result, FetchError):
        log.info("feed %s: %s", feed.id, result)
        record_error(r, feed, result, settings, now)
        return []
    parsed, body_hash = parse_if_changed(feed, result)
    new = claim_parsed(r, feed, parsed, settings, pending_at=now + settings.lease_seconds) if parsed else []
    record_success(r, feed, result, settings, now, body_hash, parsed)
    return new


def absorb_body(r: redis.Redis, feed, body: bytes, content_type: str | None, settings: Settings) -> list[str]:
    """A body pushed to us (WebSub): same parse and claim as a poll, fanned out on the next tick."""
    parsed = parse_feed(body, feed_id=feed.id, url=feed.url, content_type=content_type)
    return claim_parsed(r, feed, parsed, settings, pending_at=time.time())


def claim_parsed(r: redis.Redis, feed, parsed, settings: Settings, pending_at: float) -> list[str]:
    """Claim a parsed feed's stories; the first time we see a feed, only as a baseline."""
    new = dedup.claim_stories(r, feed.id, parsed.stories, story_ttl=settings.story_ttl,
                              title_ttl=settings.title_ttl, pending_at=pending_at,
                              baseline=not feed.baseline_done)
    if not feed.baseline_done:
        store.update_feed(r, feed.id, baseline_done=True)
        log.info("feed %s: baseline of %d stories recorded, none alerted", feed.id, len(parsed.stories))
    return new


@lru_cache(maxsize=4096)
def compiled(expr: str) -> match.Expr:
    return match.compile_expression(expr)


def matching_topics(r: redis.Redis, story: dict) -> dict[str, list[str]]:
    """Topic name -> the terms that made it match."""
    index = match.index_text(match.story_text(story["title"], story.get("summary") or ""))
    found = {}
    for topic in store.list_topics(r):
        expr = compiled(topic.expr)
        if match.matches(expr, index):
            found[topic.name] = match.matched_terms(expr, index)
    return found


def fan_out(r: redis.Redis, story_ids: list[str], settings: Settings) -> list[str]:
    """Match new stories to subscribers and record one pending delivery per URL."""
    created: list[str] = []
    for story_id in story_ids:
        story = dedup.load_story(r, story_id)
        if story is None:
            r.zrem("stories:pending", story_id)
            continue
        topics = matching_topics(r, story)
        rows = []
        for sub in store.get_subscribers(r, sorted(store.subscribers_of(r, list(topics)))):
            rows += [(story_id, sub.name, ledger.url_hash(u), redact(u)) for u in sub.urls]
        created += ledger.create(
            r, rows, ttl=settings.story_ttl, lease_until=time.time() + settings.lease_seconds
        )
        record_matches(r, story, topics, settings.story_ttl)
    return created


def record_matches(r: redis.Redis, story: dict, topics: dict[str, list[str]], ttl: int) -> None:
    """Why the story matched (for `story show`), and which topics each feed feeds (for notices)."""
    story_id = story["id"]
    pipe = r.pipeline(transaction=True)
    if topics:
        pipe.sadd(f"feed:{story['feed']}:topics", *topics)
        pipe.hset(f"story:{story_id}:matches", mapping={t: ", ".join(terms) for t, terms in topics.items()})
        pipe.expire(f"story:{story_id}:matches", ttl)
    pipe.zrem("stories:pending", story_id)
    pipe.execute()


def deliver(r: redis.Redis, delivery_ids: list[str], settings: Settings) -> None:
    for delivery_id in delivery_ids:
        deliver_one(r, delivery_id, settings)


def deliver_one(r: redis.Redis, delivery_id: str, settings: Settings) -> None:
    """Send one alert at most once: the compare-and-set in `ledger.begin` decides who sends."""
    record = ledger.get(r, delivery_id)
    if record is None:
        return
    if record.state == "sending" and record.updated + settings.lease_seconds <= time.time():
        # the worker that was sending died mid-send: we cannot know if it arrived, and a second
        # copy is worse than a gap, so we stop here and say so in the ledger
        ledger.finish(
            r, delivery_id, "failed", error="interrupted during send; not resent to avoid a duplicate"
        )
        return
    if time.time() - record.created > settings.delivery_max_age:
        ledger.finish(r, delivery_id, "dropped", error="too old to be worth sending")
        return
    if ledger.begin(r, delivery_id, time.time() + settings.lease_seconds) != "go":
        return
    outcome(r, record, attempt(r, record, settings), settings)


def attempt(r: redis.Redis, record, settings: Settings) -> DeliveryError | None:
    story = dedup.load_story(r, record.story)
    urls = notices.urls_of(r, record.subscriber, settings)
    url = next((u for u in urls if ledger.url_hash(u) == record.url_hash), None)
    if story is None or url is None:
        return DeliveryError("the story or the subscriber's URL is gone", permanent=True)
    try:
        send(url, story, settings.allow_private_hosts)
    except DeliveryError as exc:
        return exc
    return None


def outcome(r: redis.Redis, record, error: DeliveryError | None, settings: Settings) -> None:
    attempts = record.attempts + 1
    if error is None:
        ledger.finish(r, record.id, "sent")
        log.info("delivery %s sent to %s (%s)", record.id, record.subscriber, record.target)
        return
    log.warning("delivery %s to %s failed (attempt %d): %s", record.id, record.target, attempts, error)
    if error.permanent or attempts >= settings.delivery_max_attempts:
        ledger.finish(r, record.id, "failed", error=str(error))
        r.hincrby("failing:urls", f"{record.subscriber} {record.target}", 1)
        return
    delay = settings.retry_base_delay * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
    ledger.finish(r, record.id, "retrying", error=str(error), next_at=time.time() + delay)
