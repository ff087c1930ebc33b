"""Polling throughput: feeds polled per second by the real beat and workers, side by side with the
limits measured in the same run (never against a table: this host is shared and noisy).

Limits: aiohttp conditional GETs answered 304 (one process, c=50, keep-alive; and with a new
connection each, which is what a poll every 60 s gets in the wild), httpx the same way, a Redis
round trip, `feedparser.parse` and sha256 on the generated feeds. Parts, in this process:
`fetch_many` and `pipeline.poll_feeds` as a poll task calls them. Service: N feeds, each due every
second (`feed add --interval 1`, NOTIFIER_MIN_INTERVAL=1), polled by the poll worker of
`notifier run` (prefork x2) and `notifier beat`; after the baseline pass, rounds in which nothing
changed (all 304) and rounds in which 1 % of the feeds got a new story. A round is N polls; the
feed server counts them. CPU comes from /proc for the worker's process tree; Redis reports its own.

BENCH_FEEDS sets N (default 1000); BENCH_WORKER replaces the worker's pool options (e.g.
"--pool threads --concurrency 8"); BENCH_PROFILE=DIR records py-spy profiles of the worker there.
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

from benchmarks.feedgen import FeedServer, FeedSet
from benchmarks.stack import own_redis, service
from notifier import pipeline, store
from notifier.db import connect
from notifier.fetch import FetchLimits, FetchRequest, fetch_many
from notifier.parse import parse_feed
from notifier.settings import Settings
from tests.service import wait_until

N = int(os.environ.get("BENCH_FEEDS", "1000"))
SEED = 7
CLIENTS = 50  # concurrent requests of the raw clients, as NOTIFIER_FETCH_CONCURRENCY; also the hosts
SLICE = 2.5  # seconds per raw measurement
ROUNDS = 3  # rounds per service phase
PHASE_CAP = 25.0  # seconds at most per phase, whatever the service manages
TARGET_POLLS = 10_000 / 60  # 10,000 feeds every 60 s
POOL = shlex.split(os.environ.get("BENCH_WORKER", "--pool prefork --concurrency 2"))


def run() -> dict:
    base = time.time() // 60 * 60
    with own_redis() as url, FeedServer(N, SEED, base, hosts=CLIENTS) as feeds:
        etags = first_pass(feeds)
        limits = (
            http_limits(feeds, etags)
            | {"redis_rtt_us": redis_rtt(url)}
            | parse_limits(FeedSet(N, SEED, base))
        )
        parts = fetch_alone(feeds, etags) | poll_feeds_alone(feeds, url)
        feeds.reset()
        served = service_rounds(feeds, url)
    return report(limits, parts, served)


# -- the limits ---------------------------------------------------------------------------------


def first_pass(feeds: FeedServer) -> list[str]:
    """GET every feed once: the ETags the conditional GETs send, and proof that all are served."""

    async def etag(session: aiohttp.ClientSession, url: str) -> str:
        async with session.get(url) as response:
            await response.read()
            return response.headers["ETag"]

    async def every():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:
            return await asyncio.gather(*(etag(session, feeds.url(i)) for i in range(N)))

    return asyncio.run(every())


def http_limits(feeds: FeedServer, etags: list[str]) -> dict:
    """Raw clients, c=50: each of the 50 takes one host's feeds round and round."""
    lanes = [[(feeds.url(i), etags[i]) for i in range(k, N, CLIENTS)] for k in range(CLIENTS)]
    return {
        "aiohttp_304": measured(feeds, lambda: asyncio.run(_aiohttp_304(lanes, force_close=False))),
        "aiohttp_304_new_conn": measured(feeds, lambda: asyncio.run(_aiohttp_304(lanes, force_close=True))),
        "httpx_304": measured(feeds, lambda: asyncio.run(_httpx_304(lanes))),
    }


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


def measured(feeds: FeedServer, work) -> dict:
    """Polls a second, per CPU-second of this process, and how busy the feed server was meanwhile.
    Every request must have been answered 304: an error a client returned would flatter the rate."""
    answered, server = feeds.stats()["304"], tree_cpu(feeds.pid)
    wall, cpu = time.perf_counter(), time.process_time()
    done = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if feeds.stats()["304"] - answered != done:
        raise RuntimeError(f"{done} requests made, {feeds.stats()['304'] - answered} answered 304")
    return {
        "per_s": done / wall,
        "per_cpu_s": done / cpu,
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


def parse_limits(feedset: FeedSet, sample: int = 20, rounds: int = 2) -> dict:
    """Interleaved, so a noisy neighbour slows every variant alike."""
    bodies = [feedset.body(i) for i in range(0, N, N // sample)][:sample]
    variants = {
        "feedparser": feedparser.parse,  # the bytes themselves, default options
        "feedparser_service_flags": _feedparser_as_the_service,
        "parse_feed": lambda body: parse_feed(body, feed_id="f", url="http://127.0.0.1/f.xml"),
        "sha256": lambda body: [hashlib.sha256(body).hexdigest() for _ in range(100)],
    }
    seconds = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for name, parse in variants.items():
            started = time.perf_counter()
            for body in bodies:
                parse(body)
            seconds[name] += time.perf_counter() - started
    done = {name: len(bodies) * rounds * (100 if name == "sha256" else 1) for name in variants}
    return {name: done[name] / seconds[name] for name in variants} | {
        "feed_kb_mean": sum(map(len, bodies)) / len(bodies) / 1000
    }


def _feedparser_as_the_service(body: bytes):
    """Exactly the call notifier.parse.parse_feed makes, and nothing after it."""
    headers = {"content-location": "http://127.0.0.1/f.xml", "content-type": "application/xml"}
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


# -- the service's parts, in this process -------------------------------------------------------


def fetch_alone(feeds: FeedServer, etags: list[str]) -> dict:
    """notifier.fetch.fetch_many as poll_feeds calls it: 50 feeds, a new loop and session each."""
    limits = FetchLimits(allow_private=True, concurrency=CLIENTS)
    batches = [
        [FetchRequest(feeds.url(i), etag=etags[i]) for i in range(k, min(k + 50, N))] for k in range(0, N, 50)
    ]
    return {
        "fetch_many_304": measured(
            feeds, lambda: _repeat(lambda b: asyncio.run(fetch_many(b, limits)), batches)
        )
    }


def poll_feeds_alone(feeds: FeedServer, url: str) -> dict:
    """pipeline.poll_feeds (fetch + Redis, no Celery) on feeds whose last poll stored an ETag."""
    r = connect(url.rsplit("/", 1)[0] + "/1")  # a database of its own: the service uses 0
    settings = Settings(redis_url=url, allow_private_hosts=True, min_interval=1, fetch_concurrency=CLIENTS)
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, forced=True).id for i in range(min(N, 500))]
    for feed_id in ids:
        store.update_feed(r, feed_id, etag='"v0"', baseline_done=True, last_success=time.time())
    batches = [ids[k : k + 50] for k in range(0, len(ids), 50)]
    figures = measured(feeds, lambda: _repeat(lambda b: pipeline.poll_feeds(r, b, settings), batches))
    r.flushdb()
    return {"poll_feeds_304": figures}


def _repeat(work, batches: list[list]) -> int:
    done, deadline = 0, time.monotonic() + SLICE
    for batch in itertools.cycle(batches):
        if time.monotonic() >= deadline:
            return done
        work(batch)
        done += len(batch)


# -- the service ----------------------------------------------------------------------------------


def service_rounds(feeds: FeedServer, url: str) -> dict:
    r = connect(url)
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, forced=True).id for i in range(N)]  # --interval 1
    with service(url, NOTIFIER_FETCH_CONCURRENCY=str(CLIENTS)) as svc:
        worker = svc.start("worker-poll", "worker", "--queues", "poll", *POOL, "--name", "poll")
        svc.start("beat", "beat")
        started = time.monotonic()
        if not wait_until(lambda: _polled_all(r, ids), timeout=240, interval=0.5):
            raise RuntimeError(f"baseline pass not done in 240 s\n{svc.logs()}")
        baseline = time.monotonic() - started
        _wait_polls(feeds, r, N // 2, deadline=time.monotonic() + 10)  # settle
        with profiled("unchanged", worker.pid):
            unchanged = phase(feeds, r, worker.pid, changed=0)
        with profiled("one_percent", worker.pid):
            changed = phase(feeds, r, worker.pid, changed=max(1, N // 100))
    return {
        "baseline_s": baseline,
        "baseline_polls_per_s": N / baseline,
        "unchanged": unchanged,
        "one_percent_changed": changed,
    }


def _polled_all(r, ids: list[str]) -> bool:
    pipe = r.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hget(f"feed:{feed_id}", "last_success")
    return all(value not in (None, "null") for value in pipe.execute())


def phase(feeds: FeedServer, r, worker_pid: int, changed: int) -> dict:
    """ROUNDS rounds of N polls each; before each, `changed` feeds get a new story."""
    before, cpu, redis_cpu = feeds.stats(), tree_cpu(worker_pid), _redis_cpu(r)
    started, waits = time.monotonic(), []
    for _ in range(ROUNDS):
        if changed:
            feeds.change(changed)
        waits.append(_wait_polls(feeds, r, N, deadline=started + PHASE_CAP))
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
        "cpu_s_per_1000": 1000 * worker_cpu / polls,
        "polls_per_worker_cpu_s": polls / worker_cpu,
        "longest_stall_s": max(w[0] for w in waits),
        "leased_median": statistics.median([x for w in waits for x in w[1]] or [0]),
    }


def _wait_polls(feeds: FeedServer, r, count: int, deadline: float) -> tuple[float, list[int]]:
    """Wait for `count` more polls. Returns the longest wait without any, and samples of how many
    feeds were claimed but not yet polled (leased): above zero, the workers are the limit."""
    counts = feeds.stats()
    goal = seen = counts["200"] + counts["304"]
    goal, last, stall, leased = goal + count, time.monotonic(), 0.0, []
    while seen < goal and time.monotonic() < deadline:
        time.sleep(0.1)
        counts, now = feeds.stats(), time.monotonic()
        leased.append(r.zcount("feeds:due", time.time() + 30, "+inf"))  # a lease is 120 s, a poll 1 s
        if counts["200"] + counts["304"] > seen:
            seen, stall, last = counts["200"] + counts["304"], max(stall, now - last), now
    return stall, leased


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
    command = f"{spy} record -p {pid} --subprocesses -r 200 -f raw -o {out}/{name}.txt".split()
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes what it has and stops
        recorder.wait(timeout=30)


# -- the report -----------------------------------------------------------------------------------


def report(limits: dict, parts: dict, served: dict) -> dict:
    aio, flags = limits["aiohttp_304"]["per_s"], limits["feedparser_service_flags"]
    unchanged, changed = served["unchanged"], served["one_percent_changed"]
    cores = {
        k: served[k]["cpu_s_per_1000"] / 1000 * TARGET_POLLS for k in ("unchanged", "one_percent_changed")
    }
    headroom = {k: 100 * used / 2 for k, used in cores.items()}
    table = [
        ("limit: aiohttp 304, c=50, keep-alive, /s", aio, None),
        ("limit: aiohttp 304, c=50, new connection each, /s", limits["aiohttp_304_new_conn"]["per_s"], None),
        ("limit: httpx 304, c=50, keep-alive, /s", limits["httpx_304"]["per_s"], aio),
        ("limit: Redis round trip (PING), µs", limits["redis_rtt_us"], None),
        ("limit: feedparser.parse(bytes), feeds/s", limits["feedparser"], None),
        ("limit: feedparser, the service's options, feeds/s", flags, None),
        ("limit: sha256 of a feed body, /s", limits["sha256"], None),
        ("part: fetch_many 304, 50 a batch, /s", parts["fetch_many_304"]["per_s"], aio),
        ("part: poll_feeds 304 (fetch + Redis), /s", parts["poll_feeds_304"]["per_s"], aio),
        ("parse_feed, feeds/s (target >= 0.8x)", limits["parse_feed"], flags),
        ("service: baseline pass (200 + parse), feeds/s", served["baseline_polls_per_s"], None),
        ("service: unchanged, polls/s (target >= 0.5x)", unchanged["polls_per_s"], aio),
        ("service: 1 % changed, polls/s", changed["polls_per_s"], aio),
        ("service: worker CPU s / 1,000 polls, unchanged", unchanged["cpu_s_per_1000"], None),
        ("service: worker CPU s / 1,000 polls, 1 % changed", changed["cpu_s_per_1000"], None),
        ("10k feeds/60 s, % of 2 cores, unchanged", headroom["unchanged"], 50),
        ("10k feeds/60 s, % of 2 cores, 1 % changed", headroom["one_percent_changed"], 50),
    ]
    return {
        "feeds": N,
        "worker": POOL,
        "limits": limits,
        "parts": parts,
        "service": served,
        "headroom_pct_of_2_cores": headroom,
        "table": table,
    }
