"""Sending what the ledger says is due: one alert, or every held alert of one URL as a digest.

Each send is at least once: a compare-and-set in the ledger decides who sends, and a send whose
worker died is sent again with the same identity (interruptions.py). The caller does not wait for
the network: sends start, and each is recorded the moment it ends (`OUTCOMES`), so one
destination that hangs holds only its own deliveries. A failure retries
only that URL, with exponential backoff and jitter, until the alert is too old to be worth it;
a permanent failure disables the URL and tells the subscriber through their other URLs.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from dataclasses import dataclass

import redis

from notifier.alerts import expiry, interruptions, ledger, notices, pacing, sending
from notifier.alerts.channels.base import DeliveryError
from notifier.core import db, metrics
from notifier.core.drain import Countdown, Drain, InFlight
from notifier.models import Delivery, find_url
from notifier.settings import Settings
from notifier.stories import claim, store

log = logging.getLogger(__name__)
FAILING_MEMORY = 7 * 24 * 3600  # `status` shows URLs that failed within the last week
STALLED = 5.0  # seconds without a send to a destination ending, while more wait: it hangs
OUTCOMES = Drain("notifier-send-results")  # every send's end, recorded as it comes
SEND_WINDOW = 20.0  # seconds of a lease a send may use (its 15 s timeout and a margin)
SENDING = InFlight()  # sends begun here whose outcome is not written yet: a stop waits for them


def send_deliveries(r: redis.Redis, delivery_ids: list[str], settings: Settings) -> Countdown:
    """Send a batch: settle what is not ours to send, pace, claim, render, start the sends, and
    return; each send is recorded as it ends (the countdown says when all are)."""
    now = time.time()
    records = ledger.get_many(r, delivery_ids)
    gone = set(delivery_ids) - {rec.id for rec in records}
    if gone:  # expired with their story: nothing left to send, so nothing left to wait for
        r.zrem("deliveries:due", *gone)
    ready = [rec for rec in records if triage(r, rec, settings, now)]
    return send_ready(r, ready, settings) if ready else Countdown(0)


def triage(r: redis.Redis, record: Delivery, settings: Settings, now: float) -> bool:
    """True for an alert waiting to be sent now; everything else is settled here."""
    if record.state in ("sent", "failed", "dropped"):
        r.zrem("deliveries:due", record.id)
    elif record.state == "held":
        release_held(r, record, settings)
    elif record.state == "sending":
        if record.updated + settings.lease_seconds <= now:
            # the worker that was sending died mid-send: a gap is worse than a copy the receiver
            # can recognise, so it goes again now with the same identity, a bounded number of times
            settled = interruptions.settle(r, record.id, settings.lease_seconds, now)
            if settled == "failed":
                metrics.delivered([record.target], "failed")
            elif settled == "held":  # a digest goes again whole, as the same message
                release_held(r, record, settings)
            return settled == "resent"
    elif now - max(record.created, record.next_at or 0) > settings.delivery_max_age:
        expiry.drop(r, [record], expiry.too_old(settings), "dropped_stale")
    else:
        return True
    return False


def send_ready(r: redis.Redis, records: list[Delivery], settings: Settings) -> Countdown:
    subscribers = {s.name: s for s in store.get_subscribers(r, sorted({rec.subscriber for rec in records}))}
    urls = {rec.id: url_of(rec, subscribers, settings) for rec in records}
    for rec in [rec for rec in records if urls[rec.id] is None]:  # nobody to send it to: not a failure
        expiry.drop(r, [rec], expiry.removed_reason(rec, set(subscribers)), "dropped_removed")
    waiting = [rec for rec in records if urls[rec.id]]
    waits = pacing.take_each(r, [pacing.destination_keys(urls[rec.id]) for rec in waiting])
    later = {rec.id: time.time() + wait for rec, wait in zip(waiting, waits, strict=True) if wait > 0}
    for rec in waiting:  # a destination that hangs gets no more sends queued behind the ones it holds
        if rec.id not in later and sending.stalled(urls[rec.id], settings, STALLED):
            later[rec.id] = time.time() + STALLED
    if later:  # waiting for a token, or for a destination, is not a failure: state and attempts stay
        r.zadd("deliveries:due", later, xx=True)
    owned = set(
        ledger.begin_many(
            r, [rec.id for rec in waiting if rec.id not in later], time.time() + settings.lease_seconds
        )
    )
    mine = [rec for rec in waiting if rec.id in owned]
    countdown = Countdown(len(mine), SENDING)
    if mine:
        take_in = _Outcomes(r, settings)
        each = lambda rec, error: OUTCOMES.put(take_in, (rec, urls[rec.id], error, countdown))  # noqa: E731
        sending.start_sends(r, mine, urls, settings, set(subscribers), each)
    return countdown


@dataclass(frozen=True)
class _Outcomes:
    """Records ended sends, on the recording thread; equal ones share one batch."""

    r: redis.Redis
    settings: Settings

    def __call__(self, ended: list[tuple]) -> None:
        record_outcomes(self.r, ended, self.settings)


def record_outcomes(r: redis.Redis, ended: list[tuple], settings: Settings) -> None:
    """(record, url, error or None, countdown) of sends that ended: the sent ones in one round trip.

    Redis away when a send ends: the outcome waits for it while the send's lease lasts (a send
    takes at most SEND_WINDOW of it), since no sweeper can resend it before then; a lost
    outcome would send the alert again (tests/faults/test_fault_ledger_write_waits.py)."""
    patience = max(0.0, settings.lease_seconds - SEND_WINDOW)
    try:
        sent = [rec.id for rec, _, error, _ in ended if error is None]
        db.outlasting(lambda: ledger.sent_many(r, sent), patience, f"the outcome of {len(sent)} send(s)")
        metrics.delivered([rec.target for rec, _, error, _ in ended if error is None], "sent")
        for rec, url, error, _ in ended:
            if error is not None and error.deferred:
                ledger.defer(r, rec.id, time.time() + error.retry_after)
            elif error is not None:
                failure = functools.partial(outcome, r, [rec], error, settings, url=url)
                db.outlasting(failure, patience, "the outcome of a failed send")
        log.info("sent %d of %d alert(s)", sum(error is None for _, _, error, _ in ended), len(ended))
    finally:
        metrics.flush(r)  # recorded after the task returned: its postrun flush has been and gone
        for *_, countdown in ended:
            countdown.one_done()


def url_of(record: Delivery, subscribers: dict, settings: Settings) -> str | None:
    if record.subscriber == notices.OPERATOR:
        urls = settings.operator_targets
    else:
        sub = subscribers.get(record.subscriber)
        urls = sub.urls if sub else ()
    return find_url(urls, record.url_hash)


def release_held(r: redis.Redis, record: Delivery, settings: Settings) -> None:
    """Send every held alert of this URL that is due, as one message."""
    now = time.time()
    held_key = f"held:{record.subscriber}:{record.url_hash}"
    candidates = ledger.get_many(r, sorted(r.smembers(held_key)))
    due = [d for d in candidates if d.state == "held" and (d.next_at or 0) <= now + 1]
    # a digest that was interrupted or failed goes again as it was: the same alerts, the same identity
    again = next((d.digest for d in due if d.digest), None)
    due = [d.id for d in due if d.digest == again] if again else [d.id for d in due]
    digest = again or (ledger.digest_id(due) if len(due) > 1 else "")
    url = target_of(r, record, settings)
    if due and url is None:
        gone_for = [d for d in candidates if d.id in set(due)]
        subscribers = {record.subscriber} if store.get_subscribers(r, [record.subscriber]) else set()
        expiry.drop(r, gone_for, expiry.removed_reason(record, subscribers), "dropped_removed", held_key)
        return
    if not due or (url and paced(r, url, due)):
        return
    taken = ledger.begin_held(r, due, now + settings.lease_seconds, digest)
    if not taken:
        return
    records = [d for d in candidates if d.id in set(taken)]
    loaded = claim.load_stories(r, [d.story for d in records])
    stories = [loaded[d.story] for d in records if d.story in loaded]
    if len(stories) == 1 and url:
        subs = {record.subscriber} if record.subscriber != notices.OPERATOR else set()
        error = sending.send_rendered(r, records[:1], {records[0].id: url}, settings, subs)[records[0].id]
    else:
        error = sending.send_digest(url, stories, settings, digest) if url and stories else gone()
    outcome(r, records, error, settings, held_key=held_key, url=url)


def target_of(r: redis.Redis, record: Delivery, settings: Settings) -> str | None:
    urls = notices.urls_of(r, record.subscriber, settings)
    return find_url(urls, record.url_hash)


def paced(r: redis.Redis, url: str, delivery_ids: list[str]) -> bool:
    """Take a token for every bucket this destination is in; if none is free, come back later.

    The delivery keeps its state and attempt count: waiting for a token is not a failure.
    `xx` stops a delivery that finished meanwhile from coming back to the due set.
    """
    wait = pacing.take_all(r, pacing.destination_keys(url))
    if wait <= 0:
        return False
    r.zadd("deliveries:due", {did: time.time() + wait for did in delivery_ids}, xx=True)
    return True


def gone() -> DeliveryError:
    return DeliveryError("the story or the subscriber's URL is gone", permanent=True)


def outcome(
    r: redis.Redis,
    records: list[Delivery],
    error: DeliveryError | None,
    settings: Settings,
    held_key: str | None = None,
    url: str | None = None,
) -> None:
    first = records[0]
    attempts = first.attempts + 1
    if error is None:
        for record in records:
            ledger.finish(r, record.id, "sent")
        if held_key:
            r.srem(held_key, *[d.id for d in records])
        metrics.delivered([d.target for d in records], "sent")
        log.info("sent %d alert(s) to %s (%s)", len(records), first.subscriber, first.target)
        return
    log.warning("send to %s failed (attempt %d): %s", first.target, attempts, error)
    if error.unavailable and not error.permanent:
        expiry.ride_out(r, records, error, settings, held_key, url)
        return
    if error.permanent or attempts - first.outages >= settings.delivery_max_attempts:
        for record in records:
            ledger.finish(r, record.id, "failed", error=str(error))
        if held_key:
            r.srem(held_key, *[d.id for d in records])
        r.hincrby("failing:urls", f"{first.subscriber} {first.target}", 1)
        r.expire("failing:urls", FAILING_MEMORY)
        metrics.delivered([d.target for d in records], "failed")
        if error.permanent:
            disable_target(r, first, str(error), settings)
        return
    delay = settings.retry_base_delay * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
    if error.retry_after and url:
        # the provider said when: nobody sends to this destination before then, from any worker
        pacing.block(r, pacing.destination_keys(url)[0][0], error.retry_after)
        delay = max(delay, error.retry_after)
    state = "held" if held_key else "retrying"  # a digest that failed stays a digest
    metrics.delivered([d.target for d in records], "retrying")
    for record in records:
        ledger.finish(r, record.id, state, error=str(error), next_at=time.time() + delay)


def disable_target(r: redis.Redis, record: Delivery, reason: str, settings: Settings) -> None:
    """A URL that can never work (404/410 webhook, bad token) stops getting alerts; its owner hears."""
    if record.subscriber == notices.OPERATOR:
        return
    sub = store.disable_url(r, record.subscriber, record.url_hash)
    if sub is not None:
        notices.target_disabled(r, sub, record.target, reason, settings)
