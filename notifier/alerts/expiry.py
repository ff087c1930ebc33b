"""When an alert stops being worth sending, and what the ledger says about it.

A provider that is down (no connection, no answer, 502/503/504) is waited out: the alert is tried
again, less often the longer the outage lasts, until it is NOTIFIER_DELIVERY_MAX_AGE old, counted
from its first try (a held alert's clock starts when it is released). An alert that old is dropped
with the reason, not sent late and not counted as a failure. So are the alerts of a subscriber, or
of a notification URL, removed while they waited: there is no one left to send them to.
Every drop is a ledger state with its reason, a count in `notifier status` and a metric.
"""

from __future__ import annotations

import random
import time

import redis

from notifier.alerts import ledger, notices, pacing
from notifier.alerts.channels.base import DeliveryError
from notifier.core import metrics
from notifier.models import Delivery
from notifier.settings import Settings

RETRY_CAP = 300.0  # seconds: a provider back from an outage gets its alerts within this


def drop(
    r: redis.Redis, records: list[Delivery], reason: str, counter: str, held_key: str | None = None
) -> None:
    """Settle these alerts as dropped with `reason`; `deliveries:count` gets one more `counter`."""
    for record in records:
        ledger.finish(r, record.id, "dropped", error=reason)
    if held_key and records:
        r.srem(held_key, *[d.id for d in records])
    r.hincrby("deliveries:count", counter, len(records))
    metrics.delivered([d.target for d in records], "dropped")


def too_old(settings: Settings) -> str:
    return f"older than {settings.delivery_max_age} s (NOTIFIER_DELIVERY_MAX_AGE): not sent late"


def removed_reason(record: Delivery, subscribers: set[str]) -> str:
    """Why a waiting alert has no URL to go to any more."""
    if record.subscriber != notices.OPERATOR and record.subscriber not in subscribers:
        return "the subscriber was removed before it was sent"
    return "the notification URL was removed before it was sent"


def ride_out(
    r: redis.Redis,
    records: list[Delivery],
    error: DeliveryError,
    settings: Settings,
    held_key: str | None = None,
    url: str | None = None,
) -> None:
    """The provider is down: try again later (the try is counted in `outages`, and does not use
    up one of NOTIFIER_DELIVERY_MAX_ATTEMPTS), or drop the alerts once they are too old."""
    now = time.time()
    first = min(d.first_try or now for d in records)
    deadline = first + settings.delivery_max_age
    if now >= deadline:
        reason = f"{too_old(settings)}; the provider was unavailable: {error}"
        drop(r, records, reason, "dropped_stale", held_key)
        return
    cap = max(settings.retry_base_delay, min(RETRY_CAP, settings.delivery_max_age / 10))
    delay = min(cap, max(settings.retry_base_delay, (now - first) / 2)) * random.uniform(0.8, 1.2)
    if error.retry_after and url:
        pacing.block(r, pacing.destination_keys(url)[0][0], error.retry_after)
        delay = max(delay, error.retry_after)
    state, until = ("held" if held_key else "retrying"), min(now + delay, deadline)
    note = f"{error} (provider unavailable; tried until {settings.delivery_max_age} s after the first try)"
    metrics.delivered([d.target for d in records], "retrying")
    for record in records:
        r.hincrby(f"delivery:{record.id}", "outages", 1)
        ledger.finish(r, record.id, state, error=note, next_at=until)
