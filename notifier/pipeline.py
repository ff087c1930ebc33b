"""The whole flow, one readable step at a time:

beat tick -> claim_due_work -> start_polls (fetch, parse, claim stories) -> route_stories (match
topics, one ledger row per subscriber URL) -> start_alerts (pace, claim, render, send).

Each function takes ids, works against Redis and is safe to run twice. The Celery tasks in
`workers/tasks.py` only call these and enqueue what they return. Fetches and sends are not waited
for: `start_polls` and `start_alerts` hand them to the process's event loop and return, and each
is recorded the moment it ends (new stories go to `on_new`, which the task layer gives them);
`poll_feeds` and `send_alerts` do the same and wait, for the CLI and tests. Where each step lives:
`notifier.feeds` (fetch, parse, cadence, WebSub), `notifier.stories` (store, claim, match),
`notifier.alerts` (fan-out, ledger, dispatch, render, channels).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from notifier.alerts import dispatch, fanout
from notifier.core import metrics
from notifier.core.drain import Countdown
from notifier.core.due import claim_due
from notifier.feeds import poller, websub
from notifier.feeds.fetch import FetchError, FetchLimits
from notifier.feeds.intake import claim_parsed
from notifier.feeds.poll import body_changed, parse_if_changed, record_error, record_success
from notifier.settings import Settings
from notifier.stories import store

log = logging.getLogger(__name__)


FEEDS_PER_TICK = 10_000  # a tick a second: the most polls per second we can ever start
WAIT_AT_MOST = 300.0  # seconds a caller that waits (CLI, tests) waits for fetches or sends to end


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


def start_polls(
    r: redis.Redis, feed_ids: list[str], settings: Settings, on_new: Callable[[list[str]], None]
) -> Countdown:
    """Hand feeds to this process's event loop and return at once (what a poll task does).

    Each feed is recorded the moment its own fetch ends, and its new stories are passed to
    `on_new` right then (the task layer enqueues their fan-out); a slow host holds only its own
    feeds. The feeds stay leased in `feeds:due` until recorded: if this process dies, the next
    tick after the lease polls them again."""
    feeds = [f for f in store.get_feeds(r, feed_ids) if f.enabled]
    return poller.hand_over(feeds, FetchLimits.from_settings(settings), _Intake(r, settings, on_new))


def hand_back_polls(r: redis.Redis) -> None:
    """On the way out: the feeds this process was handed and has not fetched fall due again now,
    for another process to poll, instead of waiting out their lease."""
    feed_ids = poller.in_flight()
    if feed_ids:
        r.zadd("feeds:due", dict.fromkeys(feed_ids, time.time()), xx=True)


def poll_feeds(r: redis.Redis, feed_ids: list[str], settings: Settings) -> list[str]:
    """Poll feeds and wait until every one is recorded (the CLI, tests); the new story ids."""
    new: list[str] = []
    start_polls(r, feed_ids, settings, on_new=new.extend).wait(WAIT_AT_MOST)
    return new


@dataclass(frozen=True)
class _Intake:
    """Takes finished polls in, on the recording thread; equal intakes share one batch."""

    r: redis.Redis
    settings: Settings
    on_new: Callable[[list[str]], None]

    def __call__(self, polled: list[poller.Polled]) -> None:
        take_in(self.r, polled, self.settings, self.on_new)

    def parsed(self, polled: list[poller.Polled]) -> None:
        take_in_changed(self.r, polled, self.settings, self.on_new)


def take_in(r: redis.Redis, polled: list[poller.Polled], settings: Settings, on_new) -> None:
    """Record finished polls: the unchanged ones and errors together in one pipeline; a changed
    body goes to the parsing thread, so a long parse never holds another feed's record."""
    quick = []
    for p in polled:
        if body_changed(p.feed, p.result):
            poller.PARSES.put(_Intake(r, settings, on_new).parsed, p)
        else:
            quick.append(p)
    try:
        subscriptions = websub.states(r, [p.feed.id for p in quick if not p.feed.forced])  # forced: unread
        writes = store.FeedWrites(r)  # every quick feed's record, sent at once
        for p in quick:
            try:
                p.context.copy().run(
                    absorb, r, p.feed, p.result, settings, writes, subscriptions.get(p.feed.id)
                )
            except Exception as exc:  # noqa: BLE001 - one feed's surprise must not cost the others their polls
                log.exception("feed %s: could not take in the poll result", p.feed.id)
                record_error(r, p.feed, internal(exc), settings, time.time())
        _send(writes)
    finally:  # recorded or not (Redis gone: the lease brings them back), a waiting caller goes on
        metrics.flush(r)  # counted after the poll task returned: its postrun flush has been and gone
        for p in quick:
            p.taken_in()


def _send(writes: store.FeedWrites) -> None:
    """The records and this process's counts in one round trip (the flush after it then has
    nothing left to send); the counts are kept if the round trip fails."""
    counted = metrics.queue_on(writes.pipe)
    try:
        writes.execute()
    except Exception:
        metrics.give_back(counted)
        raise


def take_in_changed(r: redis.Redis, polled: list[poller.Polled], settings: Settings, on_new) -> None:
    """Parse, claim and record changed feeds one by one, each one's new stories handed on at once."""
    for p in polled:
        new: list[str] = []
        try:
            writes = store.FeedWrites(r)  # its record and the counts: one round trip
            new = p.context.copy().run(absorb, r, p.feed, p.result, settings, writes)
            _send(writes)
        except Exception as exc:  # noqa: BLE001 - as above
            log.exception("feed %s: could not take in the poll result", p.feed.id)
            record_error(r, p.feed, internal(exc), settings, time.time())
        try:
            if new:
                on_new(new)
        except Exception:  # noqa: BLE001 - they wait in stories:pending; the tick takes them after the lease
            log.exception("feed %s: could not hand on %d new stories", p.feed.id, len(new))
        finally:
            metrics.flush(r)
            p.taken_in()


def internal(exc: Exception) -> FetchError:
    return FetchError("internal", f"internal: {type(exc).__name__}")


def absorb(r: redis.Redis, feed, result, settings: Settings, writes=None, websub_state=None) -> list[str]:
    """Take one feed's fetch result into the store; return the new story ids."""
    now = time.time()
    if isinstance(result, FetchError):
        metrics.polled(result.kind, changed=False)
        log.warning("feed %s: %s", feed.id, result)
        record_error(r, feed, result, settings, now, writes)
        return []
    parsed, body_hash, item_digests = parse_if_changed(feed, result)
    metrics.polled(None, changed=parsed is not None)
    new = claim_parsed(r, feed, parsed, settings, pending_at=now + settings.lease_seconds) if parsed else []
    if parsed:
        websub.on_feed_parsed(r, feed, parsed, result.link_header, settings)
    record_success(r, feed, result, settings, now, body_hash, parsed, writes, websub_state, item_digests)
    if new:
        log.info("feed %s: %d new stories", feed.id, len(new))
    return new


def route_stories(
    r: redis.Redis, story_ids: list[str], settings: Settings, on_created: Callable | None = None
) -> list[str]:
    """Match new stories to topics and subscribers; return the deliveries due now (or, with
    `on_created`, hand them to it step by step as they are recorded, and return nothing)."""
    return fanout.create_deliveries(r, story_ids, settings, on_created)


def start_alerts(r: redis.Redis, delivery_ids: list[str], settings: Settings) -> Countdown:
    """Start sending what is due of these deliveries and return at once (what a deliver task does):
    each send is recorded as it ends; retries and held alerts come back through the tick."""
    return dispatch.send_deliveries(r, delivery_ids, settings)


def finish_sends(settings: Settings) -> int:
    """A process that is stopping waits, at most NOTIFIER_STOP_GRACE seconds, for the sends it
    has in flight and for their outcomes in the ledger: a send cut off here would go a second time
    once its lease ran out. What is still in flight then is left to the lease (at least once, with
    the same identity). Returns how many sends were left so."""
    waiting = dispatch.SENDING.wait_out(0)
    if not waiting:
        return 0
    log.info("stopping: waiting up to %g s for %d send(s) in flight", settings.stop_grace, waiting)
    left = dispatch.SENDING.wait_out(settings.stop_grace)
    if left:
        told = "stopping with %d send(s) still in flight after %g s (NOTIFIER_STOP_GRACE)"
        log.warning(told + ": they go again when their lease runs out", left, settings.stop_grace)
    else:
        log.info("stopping: the %d send(s) in flight ended and are recorded", waiting)
    return left


def send_alerts(r: redis.Redis, delivery_ids: list[str], settings: Settings) -> None:
    """Send these deliveries and wait until every send is recorded (tests, benchmarks)."""
    start_alerts(r, delivery_ids, settings).wait(WAIT_AT_MOST)


def renew_subscriptions(
    r: redis.Redis, feed_ids: list[str], settings: Settings, now: float | None = None
) -> None:
    """Ask WebSub hubs again for subscriptions about to lapse."""
    websub.renew(r, feed_ids, settings, now)
