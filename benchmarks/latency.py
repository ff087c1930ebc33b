"""End-to-end latency: a story appears in a feed -> its e-mail is in the SMTP sink.

Every part of `notifier run` as it starts them, its own redis-server, one feed polled every second
(NOTIFIER_MIN_INTERVAL=1), one subscriber by e-mail. Each story is a run. There is no measured
limit: the poll interval alone puts half a second (on average) between a change and its poll;
the rest is fetch, parse, claim, cluster, match, fan-out and send. The target is the one issue 13
sets for freshness, at this interval: p50 <= interval/2 + 1 s. After the last story the ledger's
sent count must equal what the sink received.
"""

from __future__ import annotations

import time

from benchmarks.procs import start_service, wait_up
from benchmarks.records import Record, Target
from benchmarks.stack import own_redis, service
from notifier.core.db import connect
from notifier.models import Subscriber, Topic
from notifier.stories import store
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import wait_until
from tests.sinks import SmtpSink

INTERVAL = 1
HEADLINES = [
    "earthquake of magnitude 6 strikes off the northern coast",
    "central bank raises interest rates by half a point",
    "river floods force thousands from their homes upstream",
    "striking rail workers halt trains across the country",
    "parliament votes down the proposed pension reform",
    "wildfire near the airport closes both runways",
    "chemical plant explosion injures dozens of workers",
    "football federation suspends its president over bribes",
    "satellite launch fails minutes after liftoff",
    "power cut leaves millions without electricity overnight",
]


def run(quick: bool = False) -> list[Record]:
    rounds = 3 if quick else 10
    with own_redis() as url, FeedServer() as feeds, SmtpSink() as smtp, service(url) as svc:
        r = connect(url)
        start_service(svc)  # set up while it starts: the store's own calls, as the CLI makes them
        items = [Item("Council meets on Tuesday to discuss roads", "https://news.example.com/c", guid="c")]
        feeds.set("/f.xml", rss(items))
        feed = store.add_feed(r, feeds.url("/f.xml"), "f", INTERVAL, forced=True)
        store.add_topic(r, Topic("all", "breaking"))
        store.add_subscriber(r, Subscriber("reader", (smtp.url(),), ("all",)))
        wait_up(r, svc)
        polled = lambda: r.hget(f"feed:{feed.id}", "last_success") not in (None, "null")  # noqa: E731
        if not wait_until(polled, timeout=60):
            raise RuntimeError(f"the feed was never polled\n{svc.logs()[-3000:]}")
        latencies = [one_story(feeds, smtp, items, n, svc) for n in range(rounds)]
        sent, received = settled(r, smtp, rounds)
    note = f"{rounds} stories, one e-mail each: ledger sent {sent}, sink received {received}"
    return [
        Record("latency", f"publish -> e-mail in sink ({INTERVAL} s poll)", "s", latencies,
               target=Target("<=", INTERVAL / 2 + 1), note=note),
    ]  # fmt: skip


def one_story(feeds: FeedServer, smtp: SmtpSink, items: list, n: int, svc) -> float:
    # ten different events: ten copies of one headline would be one event, alerted once
    title = f"Breaking: {HEADLINES[n % len(HEADLINES)]}"
    items.insert(0, Item(title, f"https://n.example/{n}", guid=f"b{n}"))
    published = time.monotonic()
    feeds.set("/f.xml", rss(items))
    if not wait_until(lambda: len(smtp.messages) > n, timeout=30, interval=0.01):
        raise RuntimeError(f"story {n} never reached the sink\n{svc.logs()[-3000:]}")
    latency = time.monotonic() - published
    time.sleep(0.3)
    return latency


def settled(r, smtp: SmtpSink, expected: int) -> tuple[int, int]:
    """(ledger sent, sink received) once both have stopped moving; any mismatch fails the run."""

    def counts() -> tuple[int, int]:
        return int(r.hget("deliveries:count", "sent") or 0), len(smtp.messages)

    wait_until(lambda: counts() == (expected, expected), timeout=10)
    sent, received = counts()
    if not sent == received == expected:
        raise RuntimeError(f"{expected} stories: the ledger counts {sent} sent, the sink received {received}")
    return sent, received
