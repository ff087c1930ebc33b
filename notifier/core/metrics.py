"""The service's counters, kept in Redis so that every process on every host adds to the same ones.

Why Redis and not prometheus-client's multiprocess mode: that mode shares counters through
files in one directory, so it only sees the processes of one machine (one container, even),
while our workers run in separate containers and on several hosts; Redis is the one thing they
all share already. A process adds up its increments in memory and writes them with one
pipelined HINCRBYFLOAT per counter after each task (workers/app.py) and at least every few
seconds; `/metrics` (notifier/api/metrics.py) reads the sums and adds the live gauges. What a
process counted since its last flush is lost if it is killed: at most one task's worth.

Call sites use the named counters below and nothing else: POLLS.inc(outcome="changed").
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from datetime import datetime
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

FLUSH_EVERY = 5.0  # seconds: increments made outside a task still reach Redis this soon
SEP = "\x1f"  # between label values in a hash field: never part of a label value we use


class _Pending:
    """This process's increments not yet written: {redis key: {field: amount}}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.amounts: dict[str, dict[str, float]] = {}
        self.last_flush = time.monotonic()

    def add(self, key: str, field: str, amount: float) -> None:
        with self.lock:
            fields = self.amounts.setdefault(key, {})
            fields[field] = fields.get(field, 0.0) + amount
        if time.monotonic() - self.last_flush > FLUSH_EVERY:
            flush()

    def take(self) -> dict[str, dict[str, float]]:
        with self.lock:
            taken, self.amounts = self.amounts, {}
            self.last_flush = time.monotonic()
        return taken

    def give_back(self, taken: dict[str, dict[str, float]]) -> None:
        for key, fields in taken.items():
            for field, amount in fields.items():
                with self.lock:
                    mine = self.amounts.setdefault(key, {})
                    mine[field] = mine.get(field, 0.0) + amount


PENDING = _Pending()


class Counter:
    """A Prometheus counter summed in Redis; `values` lists the label values shown even at 0."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = (), values: tuple[tuple, ...] = ()):
        self.name, self.doc, self.labels, self.values = name, doc, labels, values
        self.key = f"metrics:{name}"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount:
            PENDING.add(self.key, SEP.join(str(labels[n]) for n in self.labels), amount)


class Histogram:
    """A Prometheus histogram summed in Redis: a count per bucket, plus the sum and the count."""

    kind = "histogram"

    def __init__(self, name: str, doc: str, buckets: tuple[float, ...]):
        self.name, self.doc, self.labels = name, doc, ()
        self.buckets = tuple(sorted(float(b) for b in buckets))
        self.key = f"metrics:{name}"

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        bound = repr(self.buckets[index]) if index < len(self.buckets) else "+Inf"
        PENDING.add(self.key, f"le={bound}", 1)
        PENDING.add(self.key, "sum", value)
        PENDING.add(self.key, "count", 1)


POLLS = Counter(
    "notifier_polls_total",
    "Feed polls by outcome: changed (a new body was parsed), not_modified (304 or the same bytes), error.",
    ("outcome",),
    (("changed",), ("not_modified",), ("error",)),
)
POLL_ERRORS = Counter("notifier_poll_errors_total", "Failed feed polls by kind of error.", ("kind",))
STORIES = Counter(
    "notifier_stories_total",
    "Stories taken in: new (alertable), duplicate (an item already known by its link or title), "
    "clustered (another outlet's report of an event already alerted).",
    ("outcome",),
    (("new",), ("duplicate",), ("clustered",)),
)
DELIVERIES = Counter(
    "notifier_deliveries_total",
    "Alert sends by channel (the notification URL's scheme) and outcome: sent, retrying, failed, dropped.",
    ("channel", "outcome"),
)
LATENCY = Histogram(
    "notifier_publish_to_send_seconds",
    "From a story's publication (its date in the feed, or when we first saw it if it has none or "
    "a later one) to its alert being sent. Held alerts (quiet hours, digests) are not counted.",
    (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600),
)
ALL = (POLLS, POLL_ERRORS, STORIES, DELIVERIES, LATENCY)


def polled(error_kind: str | None, changed: bool) -> None:
    """One feed poll: an error of that kind, or a new body, or nothing new."""
    if error_kind:
        POLLS.inc(outcome="error")
        POLL_ERRORS.inc(kind=error_kind)
    else:
        POLLS.inc(outcome="changed" if changed else "not_modified")


def delivered(targets: list[str], outcome: str) -> None:
    """Alerts to these targets (scheme://host, as the ledger shows them) ended so."""
    for target in targets:
        DELIVERIES.inc(channel=channel_of(target), outcome=outcome)


def sent_after_publication(records, stories: dict[str, dict], results: dict, now: float | None = None):
    """Observe publish -> send for each alert just sent (ledger records, their stories by id)."""
    now = now or time.time()
    for rec in records:
        if results.get(rec.id) is None and rec.state != "held" and rec.story in stories:
            LATENCY.observe(max(0.0, now - published_at(stories[rec.story], rec.created)))


def published_at(story: dict, first_seen: float) -> float:
    """The feed's date for the story, unless it has none or one after we first saw the story."""
    try:
        stamp = datetime.fromisoformat(story["published"]).timestamp() if story.get("published") else None
    except (TypeError, ValueError):
        stamp = None
    return min(stamp, first_seen) if stamp is not None else first_seen


def channel_of(target: str) -> str:
    try:
        return urlsplit(target).scheme.lower() or "unknown"
    except ValueError:
        return "unknown"


def flush(r=None) -> None:
    """Write this process's increments to Redis in one round trip; on failure keep them."""
    taken = PENDING.take()
    if not taken:
        return
    try:
        if r is None:
            from notifier.core.db import shared_client  # late: metrics are imported everywhere

            r = shared_client()
        pipe = r.pipeline(transaction=False)
        _increments(pipe, taken)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - counting must never break the work it counts
        PENDING.give_back(taken)
        log.debug("metrics not flushed (kept for the next try): %s", exc)


def queue_on(pipe) -> dict[str, dict[str, float]]:
    """Queue this process's increments on a caller's pipeline, to go in the round trip of its
    writes; the caller hands them back (`give_back`) if the pipeline fails."""
    taken = PENDING.take()
    _increments(pipe, taken)
    return taken


def give_back(taken: dict[str, dict[str, float]]) -> None:
    PENDING.give_back(taken)


def _increments(pipe, taken: dict[str, dict[str, float]]) -> None:
    for key, fields in taken.items():
        for field, amount in fields.items():
            pipe.hincrbyfloat(key, field, amount)
