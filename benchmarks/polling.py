"""Polling: feeds polled per second by the whole service, beside limits measured in the same run.

Limits (benchmarks/polling_limits.py), every try kept: aiohttp conditional GETs answered 304 at
c=50 with keep-alive, in one process and in as many as the poll worker has (the service's shape),
and in that shape with a new connection each; httpx the same way; `feedparser.parse` with the
service's options beside `parse_feed`; `pipeline.poll_feeds` in this process (a poll task without Celery).

Service (benchmarks/polling_service.py): every part of `notifier run` as it starts them, its own
redis-server, N feeds each due every second (`feed add --interval 1`, NOTIFIER_MIN_INTERVAL=1),
so the demand is far above what the workers do. `fresh` of them are polled from scratch (the
baseline pass: 200, parse, stories recorded as baseline); the rest join as a first poll leaves a
feed. Then three phases of rounds, each round a run: nothing changed (all 304), the same with the
feed server closing every connection, and 1 % of the feeds changed before each round. The
headroom counts the CPU of every process of the service (psutil, pool children included) and of
Redis: CPU per poll x 10,000 feeds every 60 s / 2 cores.

BENCH_FEEDS sets N (default 12000), BENCH_FRESH_FEEDS the baseline pass (default 60:
same-event clustering makes a first poll of 50 stories cost ~0.5 s); BENCH_WORKER
replaces the poll worker's pool options (e.g. "--pool threads --concurrency 8"); BENCH_PROFILE=DIR
records py-spy profiles of the poll worker per phase (benchmarks/profile.py).
"""

from __future__ import annotations

import os
import shlex
import statistics
import time

from benchmarks.feedgen import FeedServer, FeedSet
from benchmarks.polling_limits import CLIENTS, Size, http_limits, parse_limits
from benchmarks.polling_service import service_rounds
from benchmarks.procs import breakdown
from benchmarks.records import Record, Target
from benchmarks.stack import own_redis
from workers.supervisor import child_commands

FULL = Size(
    feeds=int(os.environ.get("BENCH_FEEDS", "12000")),
    fresh=int(os.environ.get("BENCH_FRESH_FEEDS", "60")),
    tries=3,
    slice=1.5,
    rounds=3,
    round_cap=5.0,
)
QUICK = Size(feeds=600, fresh=3, tries=1, slice=0.3, rounds=1, round_cap=2.0, parses=4)
SEED = 7
DEMAND = 10_000 / 60  # 10,000 feeds every 60 s, in polls a second
POLL = child_commands()["worker-poll"]
POOL = shlex.split(os.environ.get("BENCH_WORKER", "")) or POLL[POLL.index("--pool") : POLL.index("--name")]
# processes fetching in the service: each has its own event loop at CLIENTS concurrent fetches
PROCESSES = int(POOL[POOL.index("--concurrency") + 1]) if "prefork" in POOL and "--concurrency" in POOL else 1


def run(quick: bool = False) -> list[Record]:
    size = QUICK if quick else FULL
    base = time.time() // 60 * 60
    with own_redis() as url, FeedServer(size.feeds, SEED, base, hosts=CLIENTS) as feeds:
        limits = http_limits(feeds, url, size, PROCESSES)
        limits |= parse_limits(FeedSet(size.feeds, SEED, base), size)
        feeds.reset()
        served = service_rounds(feeds, url, size, POOL)
    return records(limits, served, size)


def records(limits: dict[str, list[float]], served: dict, size: Size) -> list[Record]:
    def rec(figure, unit, runs, limit=None, target=None, note=""):
        median = statistics.median(limits[limit]) if limit else None
        return Record("polling", figure, unit, runs, median, limits.get(limit, []), target, note)

    def rates(phase: str) -> list[float]:
        return [r["polls_per_s"] for r in served[phase]]

    unchanged = served["unchanged"]
    changed = ", ".join(str(r["answered_200"]) for r in served["one_percent_changed"])
    shape = f"aiohttp 304s, c={CLIENTS} keep-alive in {PROCESSES} processes (the poll pool's shape)"
    leased = statistics.median(r["leased_median"] for r in unchanged)
    rows = [
        rec("unchanged, polls/s", "/s", rates("unchanged"), "aiohttp_304_as_service",
            Target(">=", 0.5, "ratio"),
            f"limit: {shape}; feeds claimed, not yet polled (median) {leased:,.0f}: in the thousands, "
            "the workers, not the demand, set the rate"),
        rec("unchanged, new connection each, polls/s", "/s", rates("unchanged_new_conn"),
            "aiohttp_304_new_conn",
            note=f"limit: aiohttp 304s, c=50 in {PROCESSES} processes, a new connection each"),
        rec("1 % changed, polls/s", "/s", rates("one_percent_changed"), "aiohttp_304_as_service",
            note=f"limit: {shape}; changed bodies fetched (200) per round: {changed}"),
        rec("baseline pass (200, parse, first polls), /s", "/s", [served["baseline"]["polls_per_s"]],
            note=f"{size.fresh} feeds polled from scratch; one run"),
        rec("poll_feeds in-process, no Celery, 304s/s", "/s", limits["poll_feeds_304"], "aiohttp_304",
            note="limit: aiohttp 304s, one process, c=50 keep-alive"),
        rec("parse_feed, feeds/s", "/s", limits["parse_feed"], "feedparser_service_flags",
            Target(">=", 0.8, "ratio"), "limit: feedparser.parse with the options parse_feed passes"),
        rec("httpx 304s/s (not in the poll path)", "/s", limits["httpx_304"], "aiohttp_304",
            note="limit: aiohttp 304s, one process"),
    ]  # fmt: skip
    for phase, label in (("unchanged", "unchanged"), ("unchanged_new_conn", "new connection each"),
                         ("one_percent_changed", "1 % changed")):  # fmt: skip
        rows.append(headroom(served[phase], label))
    return rows


def headroom(rounds: list[dict], label: str) -> Record:
    """% of two cores that 10,000 feeds every 60 s take, from the CPU every process of the service
    and Redis used per poll in each round."""
    shares = [100 * r["cpu_ms_per_poll"] / 1000 * DEMAND / 2 for r in rounds]
    middle = sorted(rounds, key=lambda r: r["cpu_ms_per_poll"])[len(rounds) // 2]
    note = f"every process counted; cores used in the median round: {breakdown(middle['cores'])}"
    return Record("polling", f"10k feeds/60 s, % of 2 cores, {label}", "%", shares, target=Target("<=", 50),
                  note=note)  # fmt: skip
