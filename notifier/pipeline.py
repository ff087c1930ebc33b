"""The whole flow, one readable step at a time:

beat tick -> claim_due_work -> poll_feeds (fetch, parse, claim stories) -> route_stories (match
topics, one ledger row per subscriber URL) -> send_alerts (pace, claim, render, send).

Each function takes ids, works against Redis and is safe to run twice. The Celery tasks in
`workers/tasks.py` only call these and enqueue what they return. Where each step lives:
`notifier.feeds` (fetch, parse, cadence, WebSub), `notifier.stories` (store, claim, match),
`notifier.alerts` (fan-out, ledger, dispatch, render, channels).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from notifier.alerts import dispatch, fanout
from notifier.core import metrics
from notifier.core.due import claim_due
from notifier.feeds import websub
from notifier.feeds.batch import fetch_batch
from notifier.feeds.fetch import FetchError, FetchLimits, FetchRequest
from notifier.feeds.intake import claim_parsed
from notifier.feeds.poll import parse_if_changed, record_error, record_success
from notifier.settings import Settings
from notifier.stories import store

log = logging.getLogger(__name__)


FEEDS_PER_TICK = 10_000  # a tick a second: the most polls per second we can ever start


@dataclass(frozen=True)
class Due:
    feeds: list[str]
    stories: list[str]
    deliveries: list[str]
    renewals: list[str]  # WebSub subscriptions to ask for again


def claim_due_work(r: redis.Redis, settings: Settings, now: float | None = None) -> Due:
    """Claim everything that is due. Claims are atomic: two beats or ticks never share work."""
    now = now or time.time()
    lease = now + settings.lease_seconds
    r.set("heartbeat:tick", now)
    return Due(
        feeds=claim_due(r, "feeds:due", now, lease, limit=FEEDS_PER_TICK),
        stories=claim_due(r, "stories:pending", now, lease),
        deliveries=claim_due(r, "deliveries:due", now, lease),
        renewals=websub.claim_renewals(r, now),
    )


def poll_feeds(r: redis.Redis, feed_ids: list[str], settings: Settings) -> list[str]:
    """Fetch a batch of feeds concurrently; return the ids of the stories that are new."""
    feeds = [f for f in store.get_feeds(r, feed_ids) if f.enabled]
    requests = [FetchRequest(f.url, etag=f.etag, last_modified=f.last_modified) for f in feeds]
    results = fetch_batch(requests, FetchLimits.from_settings(settings))
    subscriptions = websub.states(r, [f.id for f in feeds])
    writes = r.pipeline(transaction=False)  # every feed's poll record, sent once for the batch
    new: list[str] = []
    for feed, result in zip(feeds, results, strict=True):
        try:
            new += absorb(r, feed, result, settings, writes, subscriptions.get(feed.id))
        except Exception as exc:  # noqa: BLE001 - one feed's surprise must not cost the batch its polls
            log.exception("feed %s: could not take in the poll result", feed.id)
            record_error(
                r, feed, FetchError("internal", f"internal: {type(exc).__name__}"), settings, time.time()
            )
    writes.execute()
    return new


def absorb(r: redis.Redis, feed, result, settings: Settings, writes=None, websub_state=None) -> list[str]:
    """Take one feed's fetch result into the store; return the new story ids."""
    now = time.time()
    if isinstance(result, FetchError):
        metrics.polled(result.kind, changed=False)
        log.warning("feed %s: %s", feed.id, result)
        record_error(r, feed, result, settings, now)
        return []
    parsed, body_hash = parse_if_changed(feed, result)
    metrics.polled(None, changed=parsed is not None)
    new = claim_parsed(r, feed, parsed, settings, pending_at=now + settings.lease_seconds) if parsed else []
    if parsed:
        websub.on_feed_parsed(r, feed, parsed, result.link_header, settings)
    record_success(r, feed, result, settings, now, body_hash, parsed, writes, websub_state)
    if new:
        log.info("feed %s: %d new stories", feed.id, len(new))
    return new


def route_stories(r: redis.Redis, story_ids: list[str], settings: Settings) -> list[str]:
    """Match new stories to topics and subscribers; return the deliveries due now."""
    return fanout.create_deliveries(r, story_ids, settings)


def send_alerts(r: redis.Redis, delivery_ids: list[str], settings: Settings) -> None:
    """Send what is due of these deliveries; retries and held alerts come back through the tick."""
    dispatch.send_deliveries(r, delivery_ids, settings)


def renew_subscriptions(
    r: redis.Redis, feed_ids: list[str], settings: Settings, now: float | None = None
) -> None:
    """Ask WebSub hubs again for subscriptions about to lapse."""
    websub.renew(r, feed_ids, settings, now)
