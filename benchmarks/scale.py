"""Scale and memory: 50,000 feeds every 60 s (833 polls/s), 1 % of them changed per round, on the
whole service as `notifier run` starts it (tick, poll and deliver workers, beat, API) and a Redis
of its own, for five minutes.

The feeds come from `benchmarks.feedgen`'s server (its own process, 50 loopback hosts; its CPU is
reported, not counted). They join as a first poll leaves them (ETag stored, baseline recorded, item
digests seeded before a change: seeding.py), next polls spread over the interval. A few are polled
from scratch first: what their stories cost in Redis is the memory per story. The changes go to
feeds due within CHANGE_EVERY s (so a short run polls them too), a quarter of them on one of four
topics that twenty subscribers on a local webhook sink follow; the sink's count is checked against
the ledger's.

psutil samples every process of `notifier run`'s tree and Redis every few seconds: CPU (cores used
/ 2), resident memory (the peak of each). Each window (a minute; quick: 5 s) is one run of the
figures: polls done against polls due, how far past its due time a feed waits for its poll (a
sample of 500 feeds, every second), and how many claimed feeds wait for a fetch.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

from benchmarks.feedgen import FIRST_ETAG, FeedServer
from benchmarks.records import Record, Target
from benchmarks.sampler import Sampler
from benchmarks.seeding import SeededChanges
from benchmarks.stack import own_redis, service
from notifier.core.db import connect
from notifier.core.embedded import free_port
from notifier.models import Subscriber, Topic
from notifier.stories import store
from tests.service import wait_until
from tests.sinks import HttpSink

NAME = "scale"
INTERVAL = 60  # seconds between two polls of a feed
CHANGED_PER_ROUND = 0.01  # of the feeds, every INTERVAL
CHANGE_EVERY = 5.0  # seconds between two batches of changes
SEED, HOSTS = 11, 50
TOPICS = {"elections": "election OR vote", "weather": "storm OR flood OR wildfire", "sport": "football"}
TOPICS |= {"markets": "inflation OR rates"}
SUBSCRIBERS = 20
CPU_TARGET, RSS_TARGET_MB, LAG_TARGET = 50.0, 200.0, 10.0  # % of two cores; MB; s (contract: +10 s)


@dataclass(frozen=True)
class Plan:
    feeds: int
    fresh: int  # polled from scratch first: their stories give the memory per story
    seconds: float
    window: float


FULL, QUICK = Plan(50_000, 200, 300.0, 60.0), Plan(2_000, 20, 15.0, 5.0)


def run(quick: bool = False) -> list[Record]:
    plan = QUICK if quick else FULL
    with own_redis() as url, FeedServer(plan.feeds, SEED, time.time() // 60 * 60, HOSTS) as feeds:
        with HttpSink() as sink, service(url, NOTIFIER_API_PORT=str(free_port())) as svc:
            r = connect(url)
            per_feed, ids = add_polled_feeds(r, feeds, range(plan.fresh, plan.feeds))
            add_audience(r, sink)
            svc.start("run", "run")
            if not wait_until(lambda: r.get("heartbeat:worker") and r.get("heartbeat:tick"), timeout=90):
                raise RuntimeError(f"the service did not start\n{svc.logs()}")
            per_story = baseline_pass(r, feeds, plan)
            t0 = spread_schedule(r, ids, plan)
            roots = {"service": svc.procs["run"].pid, "redis": r.info("server")["process_id"]}
            with Sampler(roots, every=3.0) as sampler, Sampler({"feed server": feeds.pid}) as server:
                windows = drive(r, feeds, plan, random.Random(SEED).sample(ids, 500), sampler, server, t0)
            delivered = settle(r, sink) | {"errors": poll_errors(r, ids)}
    return records(plan, windows, sampler, per_feed, per_story, delivered)


# -- the set-up ------------------------------------------------------------------------------------


def add_polled_feeds(r, feeds: FeedServer, numbers: range) -> tuple[float, list[str]]:
    """Feeds as `feed add URL --interval 60` and a first poll leave them; Redis bytes per feed."""
    before, later = _used(r), time.time() + 24 * 3600  # not due until spread_schedule
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", INTERVAL, now=later, forced=True).id for i in numbers]
    for start in range(0, len(ids), 1000):
        pipe, now = r.pipeline(transaction=False), time.time()
        for feed_id in ids[start : start + 1000]:
            polled = {"etag": FIRST_ETAG, "baseline_done": True, "last_success": now, "watched_since": now}
            store.update_feed(r, feed_id, next_poll=later, pipe=pipe, **polled)
        pipe.execute()
    return (_used(r) - before) / len(ids), ids


def add_audience(r, sink: HttpSink) -> None:
    names = [store.add_topic(r, Topic(name, expr)) or name for name, expr in sorted(TOPICS.items())]
    for i in range(SUBSCRIBERS):
        topics = (names[i % len(names)], names[(i * 3 + 1) % len(names)])
        store.add_subscriber(r, Subscriber(f"reader-{i}", (sink.url(f"/hook/{i}"),), tuple(set(topics))))


def baseline_pass(r, feeds: FeedServer, plan: Plan) -> float:
    """The first `plan.fresh` feeds polled from scratch by the service: Redis bytes per story kept."""
    before = _used(r)
    fresh = [
        store.add_feed(r, feeds.url(i), f"feed {i}", INTERVAL, forced=True).id for i in range(plan.fresh)
    ]

    def polled() -> bool:
        return all(value not in (None, "null") for value in _fields(r, fresh, "last_success"))

    if not wait_until(polled, timeout=120, interval=0.5):
        raise RuntimeError(f"the baseline pass of {plan.fresh} feeds did not end in 120 s")
    return (_used(r) - before) / max(1, r.zcard("stories:seen"))


def spread_schedule(r, ids: list[str], plan: Plan) -> float:
    """Next polls evenly over one interval from now, as a service running a while has them (when)."""
    start, step = time.time(), INTERVAL / len(ids)
    for first in range(0, len(ids), 1000):
        pipe = r.pipeline(transaction=False)
        for k, feed_id in enumerate(ids[first : first + 1000], first):
            store.update_feed(r, feed_id, next_poll=start + k * step, pipe=pipe)
        pipe.execute()
    return start


# -- the run ------------------------------------------------------------------------------------------


def drive(r, feeds: FeedServer, plan: Plan, sample, sampler: Sampler, server: Sampler, start: float) -> list:
    """Change 1 % of the feeds per interval, a batch every CHANGE_EVERY s; sample the schedule
    every second; close a window every `plan.window` s."""
    windows, owed, started, changes = [], 0.0, time.monotonic(), SeededChanges(r, feeds, SEED)
    per_batch, next_change = plan.feeds * CHANGED_PER_ROUND * CHANGE_EVERY / INTERVAL, started
    while time.monotonic() < started + plan.seconds - 0.5:
        opened, counts, lags, waiting = time.monotonic(), feeds.stats(), [0.0], [0]
        while time.monotonic() < opened + plan.window:
            if time.monotonic() >= next_change:
                owed, next_change = owed + per_batch, next_change + CHANGE_EVERY
                if owed >= 1:
                    change(changes, plan, int(owed), start)
                    owed -= int(owed)
            lag, claimed = schedule_state(r, sample)
            lags, waiting = [*lags, lag], [*waiting, claimed]
            time.sleep(max(0.0, 1.0 - (time.monotonic() - opened) % 1.0))
        closed, after = time.monotonic(), feeds.stats()
        sampler.sample()
        server.sample()
        windows.append({
            "seconds": closed - opened, "changed_polls": after["200"] - counts["200"],
            "polls": after["200"] + after["304"] - counts["200"] - counts["304"],
            "cores": sampler.cores(opened, closed), "server_cores": server.cores(opened, closed),
            "lag_max": max(lags), "claimed_waiting_max": max(waiting),
        })  # fmt: skip
    return windows


def change(changes: SeededChanges, plan: Plan, n: int, start: float) -> None:
    """`n` feeds among those due in the next CHANGE_EVERY s get a new story (digests seeded first); a
    quarter (at least one) lead with a topic's word, so the sink always has alerts to count."""
    spread = plan.feeds - plan.fresh  # feed plan.fresh + k is due at start + k * INTERVAL / spread
    first = int((time.time() - start) % INTERVAL / INTERVAL * spread)
    among = max(n, min(int(spread * CHANGE_EVERY / INTERVAL) + 1, spread - first))
    leads = [expression.split()[0] for expression in TOPICS.values()]  # a word of each topic
    lead = [leads[k % len(leads)] for k in range(max(1, n // 4))]
    changes.change(n, among, plan.fresh + first, lead)


def schedule_state(r, sample: list[str]) -> tuple[float, int]:
    """(how long past its due time the sample's most overdue feed waits for its poll, feeds claimed
    in the last 30 s and not polled: a claim leases a feed for 120 s, a poll moves it ~60 s on)."""
    now, claimed = time.time(), r.zcount("feeds:due", time.time() + 90, "+inf")
    due = _fields(r, sample, "next_poll")  # moved on only when a poll is recorded
    return max([0.0] + [now - float(at) for at in due if at not in (None, "null")]), claimed


def settle(r, sink: HttpSink, timeout: float = 30.0) -> dict:
    """Once nothing changes any more: alerts in the ledger against alerts the sink received."""

    def sent() -> int:
        return int(r.hget("deliveries:count", "sent") or 0)

    wait_until(
        lambda: sent() == len(sink.requests) and not r.zcount("deliveries:due", "-inf", time.time()), timeout
    )
    return {"sent": sent(), "received": len(sink.requests), "stories": r.zcard("stories:seen")}


def poll_errors(r, ids: list[str]) -> dict[str, int]:
    """Feeds whose last poll failed, by kind (a fetch timed out waiting is in no count of polls)."""
    kinds = [json.loads(k) for k in _fields(r, ids, "last_error_kind") if k not in (None, "null")]
    return {kind: kinds.count(kind) for kind in set(kinds)}


def _fields(r, ids: list[str], name: str) -> list:
    pipe = r.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hget(f"feed:{feed_id}", name)
    return pipe.execute()


def _used(r) -> int:  # bytes
    return r.info("memory")["used_memory"]


# -- the records ------------------------------------------------------------------------------------


def records(
    plan: Plan, windows: list[dict], sampler: Sampler, per_feed, per_story, delivered
) -> list[Record]:
    due_per_s = plan.feeds / INTERVAL
    shares = [100 * w["cores"] / 2 for w in windows]
    rates = [w["polls"] / w["seconds"] for w in windows]
    per_poll = [1000 * w["cores"] / rate for w, rate in zip(windows, rates, strict=True) if rate]
    by_role = sampler.by_role()
    total = sum(by_role.values()) or 1.0
    roles = ", ".join(
        f"{role} {100 * cpu / total:.0f} %" for role, cpu in sorted(by_role.items(), key=lambda x: -x[1])
    )
    rss = {role: size / 2**20 for role, size in sampler.peak_rss().items()}
    workers = {role: mb for role, mb in rss.items() if role.startswith("worker")}
    server = max(w["server_cores"] for w in windows)
    label, per = f"{plan.feeds:,} feeds / {INTERVAL} s", f"per {plan.window:g} s window"
    return [
        Record(NAME, f"{label}: CPU of every service process, % of 2 cores", "%", shares,
               target=Target("<=", CPU_TARGET),
               note=f"{per}; run tree + Redis: {roles}; feed server (not ours) max {server:.2f} cores"),
        Record(NAME, f"{label}: polls done per second", "polls/s", rates,
               limit=due_per_s, limit_runs=[due_per_s] * len(windows), target=Target(">=", 0.97, "ratio"),
               note=f"{per}; limit = polls due (feeds / interval); changed (200) polls "
               f"{sum(w['changed_polls'] for w in windows):,}; feeds whose last poll failed, by kind: "
               f"{delivered['errors'] or 'none'}"),
        Record(NAME, f"{label}: poll lag, most overdue feed, s", "s", [w["lag_max"] for w in windows],
               target=Target("<=", LAG_TARGET),
               note=f"{per}; max over 1 s samples of 500 feeds: now - due time not yet polled; claimed "
               f"but not fetched yet, max {max(w['claimed_waiting_max'] for w in windows):,}"),
        Record(NAME, f"{label}: largest worker process, resident MB", "MB", [max(workers.values())],
               target=Target("<=", RSS_TARGET_MB),
               note="peaks: " + ", ".join(f"{role} {mb:.0f}" for role, mb in sorted(rss.items()))),
        Record(NAME, f"{label}: CPU per poll, every service process", "ms", per_poll,
               note=f"{per}; x {due_per_s:.0f} polls/s = the share of a core keeping up would take"),
        Record(NAME, "Redis used_memory per feed (polled state)", "bytes", [per_feed]),
        Record(NAME, "Redis used_memory per story (baseline pass)", "bytes", [per_story],
               note=f"{plan.fresh} feeds of 50 items polled from scratch; includes their feed state"),
        Record(NAME, f"{label}: alerts the sink received vs sent in the ledger", "alerts",
               [delivered["received"]], limit=delivered["sent"] or None, limit_runs=[delivered["sent"]],
               target=Target(">=", 1.0, "ratio"), note=f"{SUBSCRIBERS} subscribers, {len(TOPICS)} topics"),
    ]  # fmt: skip
