"""The service side of the polling benchmark: every part of `notifier run` as it starts them (tick,
poll and deliver workers, beat, API) on a redis-server of its own, polling feeds due every second.

Rounds of N polls (the feed server counts them), each a run of its own: CPU is read with psutil
for every one of those processes and their pool children, and for Redis.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.feedgen import FeedServer
from benchmarks.polling_limits import CLIENTS, Size, add_polled_feeds
from benchmarks.procs import redis_pid, start_service, wait_up
from benchmarks.profile import profiled
from benchmarks.sampler import Sampler
from benchmarks.stack import service
from notifier.core.db import connect
from notifier.stories import store
from tests.service import wait_until

# name: (keep-alive, feeds changed per round in hundredths of N)
PHASES = {"unchanged": (True, 0), "unchanged_new_conn": (False, 0), "one_percent_changed": (True, 1)}


def service_rounds(feeds: FeedServer, url: str, size: Size, pool: list[str]) -> dict:
    """The first `fresh` feeds are polled from scratch (the baseline pass, and the feeds that change
    later); the rest join afterwards as a first poll leaves them, ETag stored and baseline
    recorded, since parsing thousands of feeds first would take minutes."""
    r = connect(url)
    with service(url, NOTIFIER_FETCH_CONCURRENCY=str(CLIENTS)) as svc:
        pids = start_service(svc, {"worker-poll": ["worker", "--queues", "poll", *pool, "--name", "poll"]})
        pids["redis"] = redis_pid(r)
        wait_up(r, svc)
        meter, started = Sampler(pids).start(), time.monotonic()
        ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, forced=True).id for i in range(size.fresh)]
        if not wait_until(lambda: _polled_all(r, ids), timeout=180, interval=0.5):
            raise RuntimeError(f"baseline pass not done in 180 s\n{svc.logs()[-3000:]}")
        elapsed = time.monotonic() - started
        served = {"baseline": {"polls_per_s": size.fresh / elapsed, "cpu": meter.used()}}
        add_polled_feeds(r, feeds, range(size.fresh, size.feeds))
        _wait_polls(feeds, r, size.feeds, deadline=time.monotonic() + size.round_cap)  # settle
        for name, (keep_alive, hundredths) in PHASES.items():
            feeds.keep_alive(keep_alive)
            with profiled(f"polling-{name}", [pids["worker-poll"]]):
                changed = size.feeds * hundredths // 100
                served[name] = [one_round(feeds, r, pids, changed, size) for _ in range(size.rounds)]
        for name, pid in pids.items():
            if name != "redis" and svc.procs[name].poll() is not None:
                raise RuntimeError(f"{name} (pid {pid}) exited during the run\n{svc.logs()[-3000:]}")
    return served


def _polled_all(r, ids: list[str]) -> bool:
    pipe = r.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hget(f"feed:{feed_id}", "last_success")
    return all(value not in (None, "null") for value in pipe.execute())


def one_round(feeds: FeedServer, r, pids: dict[str, int], changed: int, size: Size) -> dict:
    """N polls, or as many as `round_cap` seconds allow; before it, `changed` feeds get a new story."""
    before, meter = feeds.stats(), Sampler(pids).start()
    started = time.monotonic()
    if changed:
        feeds.change(changed, among=size.fresh)
    leased = _wait_polls(feeds, r, size.feeds, deadline=started + size.round_cap)
    elapsed, after, cpu = time.monotonic() - started, feeds.stats(), meter.used()
    polls = after["200"] + after["304"] - before["200"] - before["304"]
    return {
        "polls": polls,
        "elapsed_s": elapsed,
        "polls_per_s": polls / elapsed,
        "answered_200": after["200"] - before["200"],
        "cpu_s": cpu,
        "cpu_ms_per_poll": 1000 * sum(cpu.values()) / max(polls, 1),
        "cores": {name: used / elapsed for name, used in cpu.items()},
        # claimed by a tick, not yet polled: in the thousands, the workers (not the demand) are the limit
        "leased_median": statistics.median(leased or [0]),
    }


def _wait_polls(feeds: FeedServer, r, count: int, deadline: float) -> list[int]:
    """Wait for `count` more polls, sampling every 0.1 s how many feeds are leased (claimed, not
    yet polled: a lease is 120 s away, a poll 1 s)."""
    counts = feeds.stats()
    goal, leased = counts["200"] + counts["304"] + count, []
    while time.monotonic() < deadline:
        time.sleep(0.1)
        leased.append(r.zcount("feeds:due", time.time() + 30, "+inf"))
        counts = feeds.stats()
        if counts["200"] + counts["304"] >= goal:
            break
    return leased
