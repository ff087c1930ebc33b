"""Polling throughput: feeds polled per second by the real beat and workers, side by side with the
limits measured in the same run (never against a table: this host is shared and noisy).

Limits, best of three interleaved slices (noise only ever slows a slice down): aiohttp conditional
GETs answered 304 (one process, c=50, keep-alive; and with a new connection each, which is what
polls 60 s apart to separate sites get), httpx the same way, a Redis round trip, `feedparser.parse`
and sha256 on the generated feeds; and `pipeline.poll_feeds` in this process, without Celery.

Service: N feeds, each due every second (`feed add --interval 1`, NOTIFIER_MIN_INTERVAL=1), polled
by the poll worker of `notifier run` (prefork x2) and `notifier beat`. FRESH of them are polled
from scratch (the baseline pass); the rest join as a first poll leaves a feed. Then rounds in
which nothing changed (all 304), the same with the feed server closing every connection, and
rounds in which 1 % of the feeds got a new story. A round is N polls; the feed server counts them.
CPU comes from /proc for the worker's process tree; Redis reports its own.

BENCH_FEEDS sets N (default 12000), BENCH_FRESH_FEEDS the baseline pass (default 400);
BENCH_WORKER replaces the worker's pool options (e.g. "--pool threads --concurrency 8");
BENCH_PROFILE=DIR records py-spy profiles (collapsed stacks) of the worker in each phase.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import feedparser
import httpx

from benchmarks.feedgen import FIRST_ETAG, FeedServer, FeedSet
from benchmarks.stack import own_redis, service, side_by_side
from notifier import pipeline
from notifier.core.db import connect
from notifier.feeds.parse import parse_feed
from notifier.settings import Settings
from notifier.stories import store
from tests.service import wait_until

# Each feed is due every second and a poll ends within ~1.5 s of falling due (tick every second,
# 5 % jitter), so N feeds ask for at most ~N/1.5 polls/s: N must be far above what the service does.
N = int(os.environ.get("BENCH_FEEDS", "12000"))
FRESH = min(N, int(os.environ.get("BENCH_FRESH_FEEDS", "400")))  # polled from scratch by the service
SEED = 7
CLIENTS = 50  # concurrent requests of the raw clients, as NOTIFIER_FETCH_CONCURRENCY; also the hosts
SLICE, TRIES = 1.5, 3  # seconds per raw measurement, and how many of each
ROUNDS = 3  # rounds per service phase
PHASE_CAP = 15.0  # seconds at most per phase, whatever the service manages
TARGET_POLLS = 10_000 / 60  # 10,000 feeds every 60 s
POOL = shlex.split(os.environ.get("BENCH_WORKER", "--pool prefork --concurrency 2"))
# processes fetching in the service: each has its own event loop at CLIENTS concurrent fetches
PROCESSES = int(POOL[POOL.index("--concurrency") + 1]) if "prefork" in POOL and "--concurrency" in POOL else 1
PHASES = {"unchanged": (True, 0), "unchanged_new_conn": (False, 0), "one_percent_changed": (True, N // 100)}


def run() -> dict:
    base = time.time() // 60 * 60
    with own_redis() as url, FeedServer(N, SEED, base, hosts=CLIENTS) as feeds:
        limits = http_limits(feeds, url) | {"redis_rtt_us": redis_rtt(url)}
        limits |= parse_limits(FeedSet(N, SEED, base))
        feeds.reset()
        served = service_rounds(feeds, url)
    return report(limits, served)


# -- the limits ---------------------------------------------------------------------------------


def http_limits(feeds: FeedServer, url: str) -> dict:
    """Raw clients at c=50, each of the 50 taking one host's feeds round and round; and poll_feeds."""
    lanes = [[(feeds.url(i), FIRST_ETAG) for i in range(k, N, CLIENTS)] for k in range(CLIENTS)]
    variants = {
        "aiohttp_304": lambda: asyncio.run(_aiohttp_304(lanes, force_close=False)),
        # the limit of the service's shape: as many processes as its poll pool, each at c=CLIENTS
        "aiohttp_304_as_service": lambda: side_by_side(PROCESSES, aiohttp_304_keep_alive, lanes),
        "aiohttp_304_new_conn": lambda: asyncio.run(_aiohttp_304(lanes, force_close=True)),
        "httpx_304": lambda: asyncio.run(_httpx_304(lanes)),
        "poll_feeds_304": poll_feeds_alone(feeds, url),
    }
    best: dict[str, dict] = {}
    for _ in range(TRIES):
        for name, work in variants.items():
            got = measured(feeds, work)
            best[name] = max(best.get(name, got), got, key=lambda figures: figures["per_s"])
    return best


def aiohttp_304_keep_alive(lanes: list) -> int:
    return asyncio.run(_aiohttp_304(lanes, force_close=False))


async def _aiohttp_304(lanes: list, force_close: bool) -> int:
    connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=force_close)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str, etag: str) -> None:
            async with session.get(url, headers={"If-None-Match": etag}) as response:
                await response.read()

        return await _lanes(lanes, get)


async def _httpx_304(lanes: list) -> int:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits) as client:
        return await _lanes(lanes, lambda url, etag: client.get(url, headers={"If-None-Match": etag}))


async def _lanes(lanes: list, get) -> int:
    deadline = time.monotonic() + SLICE

    async def lane(pairs: list) -> int:
        done = 0
        while time.monotonic() < deadline:
            await get(*pairs[done % len(pairs)])
            done += 1
        return done

    return sum(await asyncio.gather(*(lane(pairs) for pairs in lanes)))


def poll_feeds_alone(feeds: FeedServer, url: str):
    """pipeline.poll_feeds as a poll task calls it (fetch + Redis, no Celery), on feeds whose last
    poll stored an ETag, in batches of 50; in a Redis database of its own (the service uses 0)."""
    r = connect(url.rsplit("/", 1)[0] + "/1")
    settings = Settings(redis_url=url, allow_private_hosts=True, min_interval=1, fetch_concurrency=CLIENTS)
    ids = add_polled_feeds(r, feeds, range(N))
    batches = [ids[k : k + 50] for k in range(0, N, 50)]

    def work() -> int:
        done, deadline = 0, time.monotonic() + SLICE
        for batch in itertools.cycle(batches):
            if time.monotonic() >= deadline:
                return done
            pipeline.poll_feeds(r, batch, settings)
            done += len(batch)

    return work


def measured(feeds: FeedServer, work) -> dict:
    """Polls a second, per CPU-second of this process, and how busy the feed server was meanwhile.
    Every request must have been answered 304: an error a client returned would flatter the rate."""
    answered, server = feeds.stats()["304"], tree_cpu(feeds.pid)
    wall, cpu = time.perf_counter(), time.process_time()
    done = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done, rate = done if isinstance(done, tuple) else (done, done / wall)  # side_by_side: its own rate
    if feeds.stats()["304"] - answered != done:
        raise RuntimeError(f"{done} requests made, {feeds.stats()['304'] - answered} answered 304")
    return {
        "per_s": rate,
        "per_cpu_s": done / cpu,  # this process only: meaningless for side_by_side
        "server_cores": (tree_cpu(feeds.pid) - server) / wall,
    }


def redis_rtt(url: str, count: int = 2000) -> float:
    """Median PING round trip, µs: the floor under every Redis call the service makes one by one."""
    r, times = connect(url), []
    for _ in range(count):
        started = time.perf_counter()
        r.ping()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def parse_limits(feedset: FeedSet, sample: int = 12) -> dict:
    """Feeds a second, best of TRIES rounds, interleaved so a noisy neighbour hits every variant."""
    bodies = [feedset.body(i) for i in range(0, N, N // sample)][:sample]
    variants = {
        "feedparser": feedparser.parse,  # the bytes themselves, default options
        "feedparser_service_flags": _feedparser_as_the_service,
        "parse_feed": lambda body: parse_feed(body, feed_id="f", url="http://127.0.0.1/f.xml"),
        "sha256": lambda body: [hashlib.sha256(body).hexdigest() for _ in range(100)],
    }
    best = dict.fromkeys(variants, 0.0)
    for _ in range(TRIES):
        for name, parse in variants.items():
            started = time.perf_counter()
            for body in bodies:
                parse(body)
            done = len(bodies) * (100 if name == "sha256" else 1)
            best[name] = max(best[name], done / (time.perf_counter() - started))
    return best | {"feed_kb_mean": sum(map(len, bodies)) / len(bodies) / 1000}


def _feedparser_as_the_service(body: bytes):
    """Exactly the call notifier.feeds.parse.parse_feed makes, and nothing after it."""
    headers = {"content-location": "http://127.0.0.1/f.xml", "content-type": "application/xml"}
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


# -- the service ----------------------------------------------------------------------------------


def service_rounds(feeds: FeedServer, url: str) -> dict:
    """The first FRESH feeds are polled from scratch (the baseline pass, and the feeds that change
    later); the rest join afterwards as they are after a first poll, ETag stored and baseline
    recorded, since parsing thousands of feeds first would take minutes."""
    r = connect(url)
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, forced=True).id for i in range(FRESH)]
    with service(url, NOTIFIER_FETCH_CONCURRENCY=str(CLIENTS)) as svc:
        worker = svc.start("worker-poll", "worker", "--queues", "poll", *POOL, "--name", "poll")
        svc.start(
            "worker-tick", "worker", "--queues", "tick", "--pool", "solo", "--name", "tick"
        )  # as `run` does
        svc.start("beat", "beat")
        started, cpu, ticks = time.monotonic(), tree_cpu(worker.pid), Ticks(r)
        if not wait_until(lambda: _polled_all(r, ids, ticks), timeout=180, interval=0.5):
            raise RuntimeError(f"baseline pass not done in 180 s\n{svc.logs()}")
        baseline, cpu = time.monotonic() - started, tree_cpu(worker.pid) - cpu
        add_polled_feeds(r, feeds, range(FRESH, N))
        _wait_polls(feeds, r, N, deadline=time.monotonic() + 5, ticks=Ticks(r))  # settle
        served = {
            "baseline_feeds": FRESH,
            "baseline_s": baseline,
            "baseline_polls_per_s": FRESH / baseline,
            "baseline_worker_cores": cpu / baseline,
            "baseline_longest_tick_gap_s": ticks.gap,
        }
        for name, (keep_alive, changed) in PHASES.items():
            feeds.keep_alive(keep_alive)
            with profiled(name, worker.pid):
                served[name] = phase(feeds, r, worker.pid, changed)
    return served


def add_polled_feeds(r, feeds: FeedServer, numbers: range) -> list[str]:
    """Feeds as `feed add URL --interval 1` (forced) and a first poll leave them: ETag stored,
    baseline recorded."""
    later = time.time() + 3600  # not due until its ETag is stored: a running service must not poll it bare
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, now=later, forced=True).id for i in numbers]
    for feed_id in ids:
        now = time.time()
        store.update_feed(r, feed_id, next_poll=now, etag=FIRST_ETAG, baseline_done=True, last_success=now)
    return ids


def _polled_all(r, ids: list[str], ticks: Ticks) -> bool:
    ticks.seen()
    pipe = r.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hget(f"feed:{feed_id}", "last_success")
    return all(value not in (None, "null") for value in pipe.execute())


def phase(feeds: FeedServer, r, worker_pid: int, changed: int) -> dict:
    """ROUNDS rounds of N polls each; before each, `changed` feeds get a new story."""
    before, cpu, redis_cpu = feeds.stats(), tree_cpu(worker_pid), _redis_cpu(r)
    server_cpu, started, ticks, samples = tree_cpu(feeds.pid), time.monotonic(), Ticks(r), {}
    for _ in range(ROUNDS):
        if changed:
            feeds.change(changed, among=FRESH)
        for name, values in _wait_polls(feeds, r, N, deadline=started + PHASE_CAP, ticks=ticks).items():
            samples.setdefault(name, []).extend(values)
    elapsed, after = time.monotonic() - started, feeds.stats()
    polls = after["200"] + after["304"] - before["200"] - before["304"]
    worker_cpu = tree_cpu(worker_pid) - cpu
    return {
        "polls": polls,
        "elapsed_s": elapsed,
        "polls_per_s": polls / elapsed,
        "answered_200": after["200"] - before["200"],
        "worker_cpu_s": worker_cpu,
        "worker_cores": worker_cpu / elapsed,
        "redis_cores": (_redis_cpu(r) - redis_cpu) / elapsed,
        "feed_server_cores": (tree_cpu(feeds.pid) - server_cpu) / elapsed,
        "cpu_s_per_1000": 1000 * worker_cpu / polls,
        "polls_per_worker_cpu_s": polls / worker_cpu,
        "longest_stall_s": max(samples["stall"]),
        "leased_median": statistics.median(samples["leased"] or [0]),
        "overdue_median": statistics.median(samples["overdue"] or [0]),
        "longest_tick_gap_s": ticks.gap,
        "ticks_per_s": ticks.count / elapsed,  # each claims at most 1,000 feeds (claim_due's limit)
    }


def _wait_polls(feeds: FeedServer, r, count: int, deadline: float, ticks: Ticks) -> dict[str, list]:
    """Wait for `count` more polls, sampling every 0.1 s: how many feeds are claimed but not yet
    polled (leased: the workers are behind) and how many are due but not claimed (overdue: the
    ticks are); and the longest wait without a poll."""
    counts = feeds.stats()
    seen = counts["200"] + counts["304"]
    goal, last, samples = seen + count, time.monotonic(), {"stall": [0.0], "leased": [], "overdue": []}
    while seen < goal and time.monotonic() < deadline:
        time.sleep(0.1)
        ticks.seen()
        counts, now = feeds.stats(), time.time()
        samples["leased"].append(r.zcount("feeds:due", now + 30, "+inf"))  # a lease is 120 s, a poll 1 s
        samples["overdue"].append(r.zcount("feeds:due", "-inf", now - 1))
        if counts["200"] + counts["304"] > seen:
            seen = counts["200"] + counts["304"]
            samples["stall"].append(time.monotonic() - last)
            last = time.monotonic()
    return samples


class Ticks:
    """The longest time between two ticks seen. Beat sends one a second, but the tick task waits in
    the poll queue behind the polls and expires after 5 s; no tick, no feed, story or delivery claimed."""

    def __init__(self, r) -> None:
        self.r, self.last, self.gap, self.count = r, None, 0.0, 0

    def seen(self) -> None:
        value = self.r.get("heartbeat:tick")
        if value and value != self.last:
            self.gap = max(self.gap, float(value) - float(self.last or value))
            self.last, self.count = value, self.count + 1


def _redis_cpu(r) -> float:
    info = r.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and every live descendant, with what their reaped children used."""
    table = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        table[int(entry)] = (int(fields[1]), sum(map(int, fields[11:15])))  # ppid, u+s+cu+cs time
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return sum(table[p][1] for p in tree if p in table) / os.sysconf("SC_CLK_TCK")


@contextmanager
def profiled(name: str, pid: int):
    """With BENCH_PROFILE=DIR and py-spy installed: the worker tree's collapsed stacks in DIR."""
    out, spy = os.environ.get("BENCH_PROFILE"), shutil.which("py-spy", path=Path(sys.executable).parent)
    if not (out and spy):
        yield
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    # --nonblocking: pausing the workers 100 times a second would halve what we measure; --gil: only
    # the thread running Python, so a thread waiting on a socket is not counted as busy
    command = f"{spy} record -p {pid} --subprocesses --gil --nonblocking -r 100 -f raw".split()
    command += ["-o", f"{out}/{name}.txt"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes what it has and stops
        recorder.wait(timeout=30)


# -- the report -----------------------------------------------------------------------------------


def report(limits: dict, served: dict) -> dict:
    aio = round(limits["aiohttp_304"]["per_s"], 1)
    shaped = round(limits["aiohttp_304_as_service"]["per_s"], 1)
    new_conn = round(limits["aiohttp_304_new_conn"]["per_s"], 1)
    flags = round(limits["feedparser_service_flags"], 1)
    per_1000 = {name: served[name]["cpu_s_per_1000"] for name in PHASES}
    # A changed poll costs a parse on top of a 304's work: 10 % changed, projected from parse_feed.
    per_1000["ten_percent_changed_projected"] = per_1000["unchanged"] + 0.1 * 1000 / limits["parse_feed"]
    headroom = {name: 100 * cpu / 1000 * TARGET_POLLS / 2 for name, cpu in per_1000.items()}
    unchanged, closing, changed = (served[name] for name in PHASES)
    table = [
        ("limit: aiohttp 304, c=50, keep-alive, 1 process, /s", aio, None),
        (f"limit: aiohttp 304, c=50 keep-alive x {PROCESSES} processes, /s", shaped, None),
        ("limit: aiohttp 304, c=50, new connection each, /s", new_conn, None),
        ("limit: httpx 304, c=50, keep-alive, /s", limits["httpx_304"]["per_s"], aio),
        ("limit: Redis round trip (PING), µs", limits["redis_rtt_us"], None),
        ("limit: feedparser.parse(bytes), feeds/s", limits["feedparser"], None),
        ("limit: feedparser, the service's options, feeds/s", flags, None),
        ("limit: sha256 of a feed body, /s", limits["sha256"], None),
        ("part: poll_feeds 304 in-process, no Celery, /s", limits["poll_feeds_304"]["per_s"], aio),
        ("parse_feed, feeds/s (target >= 0.8x)", limits["parse_feed"], flags),
        ("service: baseline pass (first polls: 200, parse), /s", served["baseline_polls_per_s"], None),
        ("service: unchanged, polls/s (target >= 0.5x)", unchanged["polls_per_s"], shaped),
        ("service: unchanged, polls/s, vs 1 process", unchanged["polls_per_s"], aio),
        ("service: unchanged, new connection each, polls/s", closing["polls_per_s"], new_conn),
        ("service: 1 % changed, polls/s", changed["polls_per_s"], aio),
        ("service: worker CPU s / 1,000 polls, unchanged", per_1000["unchanged"], None),
        ("service: worker CPU s / 1,000 polls, new conn.", per_1000["unchanged_new_conn"], None),
        ("service: worker CPU s / 1,000 polls, 1 % changed", per_1000["one_percent_changed"], None),
        ("10k feeds/60 s, % of 2 cores, unchanged", headroom["unchanged"], 50),
        ("10k feeds/60 s, % of 2 cores, new connection each", headroom["unchanged_new_conn"], 50),
        ("10k feeds/60 s, % of 2 cores, 1 % changed", headroom["one_percent_changed"], 50),
        ("10k feeds/60 s, % of 2 cores, 10 % changed (proj.)", headroom["ten_percent_changed_projected"], 50),
    ]
    return {
        "feeds": N,
        "worker": POOL,
        "limits": limits,
        "service": served,
        "worker_cpu_s_per_1000_polls": per_1000,
        "headroom_pct_of_2_cores": headroom,
        "table": table,
    }
