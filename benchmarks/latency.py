"""End-to-end latency: a story appears in a feed -> the e-mail is in the SMTP sink.

The feed is polled every second (NOTIFIER_MIN_INTERVAL=1), so half a second of the figure is the
expected wait for the next poll; the rest is fetch, parse, claim, match, fan-out and send.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.stack import own_redis, service
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import wait_until
from tests.sinks import SmtpSink

ROUNDS = 10
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


def run() -> dict:
    with own_redis() as url, FeedServer() as feeds, SmtpSink() as smtp, service(url) as svc:
        items = [Item("Council meets on Tuesday to discuss roads", "https://news.example.com/c", guid="c")]
        feeds.set("/f.xml", rss(items))
        svc.cli("feed", "add", feeds.url("/f.xml"), "--interval", "1")
        svc.cli("topic", "add", "all", "--match", "breaking")
        svc.cli("subscriber", "add", "reader", "--notify", smtp.url(), "--topic", "all")
        svc.start_worker()
        svc.start("beat", "beat")
        wait_until(lambda: svc.cli_json("feed", "list")[0]["last_success"], timeout=30)
        latencies = []
        for n in range(ROUNDS):
            # ten different events: ten copies of one headline would be one event, alerted once
            title = f"Breaking: {HEADLINES[n % len(HEADLINES)]}"
            items.insert(0, Item(title, f"https://n.example/{n}", guid=f"b{n}"))
            published = time.monotonic()
            feeds.set("/f.xml", rss(items))
            wait_until(lambda n=n: len(smtp.messages) > n, timeout=30, interval=0.01)
            latencies.append(time.monotonic() - published)
            time.sleep(0.3)
    p50, p_max = statistics.median(latencies), max(latencies)
    return {
        "rounds": ROUNDS,
        "latency_s": [round(x, 3) for x in latencies],
        "p50_s": round(p50, 3),
        "max_s": round(p_max, 3),
        "table": [
            ("publish -> e-mail in sink, median s (1 s poll)", p50, None),
            ("publish -> e-mail in sink, max s", p_max, None),
        ],
    }
