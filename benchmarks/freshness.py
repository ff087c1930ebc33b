"""End-to-end freshness: a story is published in a feed -> its alert arrives at a webhook.

The whole service runs as `notifier run` starts it (tick, poll and deliver workers, beat, the
API) on its own redis-server. A local feed server has FEEDS feeds, each added with
`--interval INTERVAL` (an operator's interval is used as it is: the adaptive cadence never
stretches it); new stories appear in them at random moments (a Poisson stream, random feed). One
more feed names a local WebSub hub, which pushes each of its new stories to our callback.

A polled story waits for the next poll: uniformly up to one interval, so the best any poller can
do is interval/2 at the median and 0.99 x interval at p99: those are the limits beside our figures.
Each story's time is split into stages from the feed server's request log and the ledger: waiting
for the poll, fetch -> delivery created (parse, claim, fan-out), created -> received (send).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from benchmarks.newsroom import Newsroom, watch
from benchmarks.records import Record, Target
from benchmarks.stack import own_redis, service
from benchmarks.timeline import delivery_times, first_fetches, pct, poll_errors, poll_gaps, summary
from notifier.alerts import ledger
from notifier.core.db import connect
from notifier.core.embedded import free_port
from tests.feedserver import FeedServer
from tests.service import wait_until
from tests.sinks import HttpSink
from tests.websubhub import WebSubHub
from workers.supervisor import child_commands


@dataclass(frozen=True)
class Shape:
    feeds: int
    interval: int  # seconds between polls of a feed
    window: float  # seconds of publishing
    per_second: float  # new stories a second across the polled feeds
    push_every: float  # seconds between WebSub pushes, on average
    label: str


FULL = Shape(feeds=100, interval=10, window=150, per_second=2.2, push_every=4.0, label="")
QUICK = Shape(feeds=20, interval=2, window=5, per_second=3, push_every=1.2, label=" (quick: 2 s interval)")


@dataclass
class Published:
    title: str
    path: str
    at: float
    answered: float = 0.0  # WebSub: when the hub's push was answered (our callback took it in)


def run(quick: bool = False) -> list[Record]:
    shape = QUICK if quick else FULL
    port = free_port()
    web = {"NOTIFIER_API_PORT": str(port), "NOTIFIER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with own_redis() as url, FeedServer() as server, WebSubHub() as hub, HttpSink() as sink:
        with service(url, **web) as svc:
            r = connect(url)
            news, pushed = (
                Newsroom(server, shape.feeds, seed=13),
                Newsroom(server, 1, seed=31, prefix="/pushed"),
            )
            pushed.announce_hub(0, hub.url)
            started = time.monotonic()
            for name, argv in child_commands().items():
                svc.spawn(name, argv)
            # an hour between the pushed feed's polls: only a push brings its stories in time
            feeds = {**{news.url(n): shape.interval for n in range(shape.feeds)}, pushed.url(0): 3600}
            watch(url, feeds, sink.url("/alerts"))
            steady = lambda: ready(r, hub, port) and polled_again(server, news, shape.feeds)  # noqa: E731
            if not wait_until(steady, timeout=120, interval=0.3):
                raise RuntimeError(f"the service was not up within 120 s\n{svc.logs()}")
            setup_s = time.monotonic() - started
            polled, pushes = publish(news, pushed, hub, shape, seed=7)
            expected = len(polled) + len(pushes)
            if not wait_until(lambda: len(sink.requests) >= expected, timeout=3 * shape.interval + 20):
                got = {body["title"] for body in sink.json_bodies()}
                missing = [(p.path, p.title) for p in polled + pushes if p.title not in got]
                raise RuntimeError(
                    f"{len(sink.requests)} of {expected} alerts arrived: {missing}\n{svc.logs()}"
                )
            time.sleep(1)  # room for a wrong extra alert to show up
            check_counts(r, sink, expected)
            arrived = {
                body["title"]: req["at"] for body, req in zip(sink.json_bodies(), sink.requests, strict=True)
            }
            created = delivery_times(r)
            failed = poll_errors(f"http://127.0.0.1:{port}")
    return records(shape, polled, pushes, arrived, created, server, setup_s, failed)


def ready(r, hub: WebSubHub, port: int) -> bool:
    """Every feed has had its first poll (baseline recorded), the hub holds our subscription and
    the API answers."""
    pipe = r.pipeline(transaction=False)
    for feed_id in r.smembers("feeds"):
        pipe.hget(f"feed:{feed_id}", "baseline_done")
    if not all(value == "true" for value in pipe.execute()) or not hub.active:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def polled_again(server: FeedServer, news: Newsroom, count: int) -> bool:
    """Every feed polled since its first poll: the cadence is steady. (A first poll parses 50
    stories, a busy machine takes its time over 100 of them, and only then is the next one set.)"""
    asked = Counter(request.path for request in server.requests)
    return all(asked[news.path(n)] >= 2 for n in range(count))


def publish(news: Newsroom, pushed: Newsroom, hub: WebSubHub, shape: Shape, seed: int):
    """New stories at random moments for `shape.window` seconds: polled ones and pushed ones on
    two threads, so a push waiting for its answer never delays a polled story."""
    polled: list[Published] = []
    pushes: list[Published] = []

    def push() -> None:
        title, at = pushed.publish(0)
        body, topic = pushed.body(0), pushed.url(0)
        statuses = hub.publish(topic, body)
        if statuses != [202]:
            raise RuntimeError(f"the hub's push was answered {statuses}")
        pushes.append(Published(title, pushed.path(0), at, answered=time.time()))

    def stream(rate: float, act, rng: random.Random) -> None:
        end = time.monotonic() + shape.window
        while (pause := rng.expovariate(rate)) < end - time.monotonic():
            time.sleep(pause)
            act()

    rng = random.Random(seed)
    polled_rng, push_rng = random.Random(rng.random()), random.Random(rng.random())

    def new_polled() -> None:
        n = polled_rng.randrange(shape.feeds)
        title, at = news.publish(n)
        polled.append(Published(title, news.path(n), at))

    pusher = threading.Thread(target=stream, args=(1 / shape.push_every, push, push_rng))
    pusher.start()
    stream(shape.per_second, new_polled, polled_rng)
    pusher.join()
    return polled, pushes


def check_counts(r, sink: HttpSink, expected: int) -> None:
    """Every alert arrived once, and the ledger says so too."""
    sent = ledger.summary(r)["counts"].get("sent", 0)
    titles = [body["title"] for body in sink.json_bodies()]
    if not len(sink.requests) == sent == expected or len(set(titles)) != len(titles):
        raise RuntimeError(
            f"sink got {len(sink.requests)} alerts ({len(set(titles))} distinct), the ledger says "
            f"{sent} sent, {expected} stories were published"
        )


def records(shape: Shape, polled, pushes, arrived, created, server: FeedServer, setup_s: float, failed: dict):
    interval, label = shape.interval, shape.label
    fetched = first_fetches(server, polled)
    took = [arrived[p.title] - p.at for p in polled]
    pushed_took = [arrived[p.title] - p.at for p in pushes]
    stages = {
        "poll wait": [fetched[p.title] - p.at for p in polled],
        "fetch -> ledger": [created[p.title] - fetched[p.title] for p in polled],
        "ledger -> received": [arrived[p.title] - created[p.title] for p in polled],
    }
    push_stages = {
        "push answered": [p.answered - p.at for p in pushes],
        "answered -> ledger (tick)": [created[p.title] - p.answered for p in pushes],
        "ledger -> received": [arrived[p.title] - created[p.title] for p in pushes],
    }
    gaps = poll_gaps(server, {p.path for p in polled}, since=min(p.at for p in polled))
    common = f"{len(polled)} polled stories in {shape.feeds} feeds, {len(pushes)} pushed; sink = ledger"
    row = lambda figure, runs, limit, target, note: Record(  # noqa: E731
        "freshness", figure + label, "s", [runs], limit, [limit] if limit else [], target, note
    )
    return [
        row(
            "polled: publish -> alert p50",
            pct(took, 50),
            interval / 2,
            Target("<=", interval / 2 + 1),
            f"{common}; stages p50/p99: {summary(stages)}",
        ),
        row(
            "polled: publish -> alert p95",
            pct(took, 95),
            0.95 * interval,
            None,
            "limit: p95 of a uniform wait for the next poll",
        ),
        row(
            "polled: publish -> alert p99",
            pct(took, 99),
            0.99 * interval,
            Target("<=", interval + 2),
            "limit: p99 of a uniform wait for the next poll",
        ),
        row(
            "polled: gap between two polls of a feed, median",
            statistics.median(gaps),
            float(interval),
            None,
            f"the cadence feeds got (feed server's log); p99 {pct(gaps, 99):.1f} s, max {max(gaps):.1f} s; "
            f"failed polls: {failed or 'none'}",
        ),
        row(
            "WebSub: push -> alert p50",
            pct(pushed_took, 50),
            None,
            None,
            f"stages p50/p99: {summary(push_stages)}",
        ),
        row(
            "WebSub: push -> alert p99",
            pct(pushed_took, 99),
            None,
            Target("<=", 1),
            f"service up and baseline polled in {setup_s:.0f} s before publishing",
        ),
    ]
