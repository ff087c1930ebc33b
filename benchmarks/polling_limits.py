"""The limits of the polling benchmark, measured in the same run on the same feeds: raw aiohttp and
httpx conditional GETs answered 304, `feedparser.parse` with the service's options, and
`pipeline.poll_feeds` in this process (a poll task's work without Celery). Every try is kept."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from dataclasses import dataclass

import aiohttp
import feedparser
import httpx

from benchmarks.feedgen import FIRST_ETAG, FeedServer, FeedSet
from benchmarks.stack import side_by_side
from notifier import pipeline
from notifier.core.db import connect
from notifier.feeds.parse import parse_feed
from notifier.settings import Settings
from notifier.stories import store

CLIENTS = 50  # concurrent requests of the raw clients, as NOTIFIER_FETCH_CONCURRENCY; also the hosts


@dataclass(frozen=True)
class Size:
    feeds: int  # each due every second: far more than the service can poll, so the service is the limit
    fresh: int  # polled from scratch by the service (the baseline pass); they change later
    tries: int  # of each limit, interleaved so a noisy neighbour hits every variant
    slice: float  # seconds per limit try
    rounds: int  # per service phase, each a run of its own
    round_cap: float  # seconds at most per round, whatever the service manages
    parses: int = 12  # feeds in the parse limits' sample


def http_limits(feeds: FeedServer, url: str, size: Size, processes: int) -> dict[str, list[float]]:
    """Requests a second per try: each of the 50 lanes takes one host's feeds round and round."""
    n, seconds = size.feeds, size.slice
    lanes = [[(feeds.url(i), FIRST_ETAG) for i in range(k, n, CLIENTS)] for k in range(CLIENTS)]
    variants = {
        "aiohttp_304": lambda: aiohttp_304(lanes, seconds),
        # the limit of the service's shape: as many processes as its poll pool, each at c=CLIENTS
        "aiohttp_304_as_service": lambda: side_by_side(processes, aiohttp_304, lanes, seconds),
        # a new connection each, as polls 60 s apart to separate sites get; the service's shape too
        "aiohttp_304_new_conn": lambda: side_by_side(processes, aiohttp_304_new_conn, lanes, seconds),
        "httpx_304": lambda: asyncio.run(_httpx_304(lanes, seconds)),
        "poll_feeds_304": poll_feeds_alone(feeds, url, size),
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(size.tries):
        for name, work in variants.items():
            runs[name].append(measured(feeds, work))
    return runs


def aiohttp_304(lanes: list, seconds: float) -> int:
    return asyncio.run(_aiohttp_304(lanes, seconds, force_close=False))


def aiohttp_304_new_conn(lanes: list, seconds: float) -> int:
    return asyncio.run(_aiohttp_304(lanes, seconds, force_close=True))


async def _aiohttp_304(lanes: list, seconds: float, force_close: bool) -> int:
    connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=force_close)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str, etag: str) -> None:
            async with session.get(url, headers={"If-None-Match": etag}) as response:
                await response.read()

        return await _lanes(lanes, get, seconds)


async def _httpx_304(lanes: list, seconds: float) -> int:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits) as client:
        get = lambda url, etag: client.get(url, headers={"If-None-Match": etag})  # noqa: E731
        return await _lanes(lanes, get, seconds)


async def _lanes(lanes: list, get, seconds: float) -> int:
    deadline = time.monotonic() + seconds

    async def lane(pairs: list) -> int:
        done = 0
        while time.monotonic() < deadline:
            await get(*pairs[done % len(pairs)])
            done += 1
        return done

    return sum(await asyncio.gather(*(lane(pairs) for pairs in lanes)))


def poll_feeds_alone(feeds: FeedServer, url: str, size: Size):
    """pipeline.poll_feeds as a poll task calls it (fetch + Redis, no Celery), on feeds whose last
    poll stored an ETag, in batches of 50; in a Redis database of its own (the service uses 0)."""
    r = connect(url.rsplit("/", 1)[0] + "/1")
    settings = Settings(redis_url=url, allow_private_hosts=True, min_interval=1, fetch_concurrency=CLIENTS)
    ids = add_polled_feeds(r, feeds, range(min(size.feeds, 2000)))  # more would only cost set-up time
    batches = [ids[k : k + 50] for k in range(0, len(ids), 50)]

    def work() -> int:
        done, deadline = 0, time.monotonic() + size.slice
        for batch in itertools.cycle(batches):
            if time.monotonic() >= deadline:
                return done
            pipeline.poll_feeds(r, batch, settings)
            done += len(batch)

    return work


def add_polled_feeds(r, feeds: FeedServer, numbers: range) -> list[str]:
    """Feeds as `feed add URL --interval 1` (forced) and a first poll leave them: ETag stored,
    baseline recorded."""
    later = time.time() + 3600  # not due until its ETag is stored: a running service must not poll it bare
    ids = [store.add_feed(r, feeds.url(i), f"feed {i}", 1, now=later, forced=True).id for i in numbers]
    for feed_id in ids:
        now = time.time()
        store.update_feed(r, feed_id, next_poll=now, etag=FIRST_ETAG, baseline_done=True, last_success=now)
    return ids


def measured(feeds: FeedServer, work) -> float:
    """Requests a second. Every request must have been answered 304: an error a client returned
    would flatter the rate."""
    answered = feeds.stats()["304"]
    wall = time.perf_counter()
    done = work()
    wall = time.perf_counter() - wall
    done, rate = done if isinstance(done, tuple) else (done, done / wall)  # side_by_side: its own rate
    if feeds.stats()["304"] - answered != done:
        raise RuntimeError(f"{done} requests made, {feeds.stats()['304'] - answered} answered 304")
    return rate


def parse_limits(feedset: FeedSet, size: Size) -> dict[str, list[float]]:
    """Feeds a second per try, on a sample of the generated feeds."""
    bodies = [feedset.body(i) for i in range(0, size.feeds, size.feeds // size.parses)][: size.parses]
    variants = {
        "feedparser_service_flags": _feedparser_as_the_service,
        "parse_feed": lambda body: parse_feed(body, feed_id="f", url="http://127.0.0.1/f.xml"),
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(size.tries):
        for name, parse in variants.items():
            started = time.perf_counter()
            for body in bodies:
                parse(body)
            runs[name].append(len(bodies) / (time.perf_counter() - started))
    return runs


def _feedparser_as_the_service(body: bytes):
    """Exactly the call notifier.feeds.parse.parse_feed makes, and nothing after it."""
    headers = {"content-location": "http://127.0.0.1/f.xml", "content-type": "application/xml"}
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
