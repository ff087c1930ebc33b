"""The soak of issue 11: the whole service on its own Redis (append-only), restarted at random
while many feeds change, then counted from the sinks.

    summary = run_soak(Soak(root=Path("/tmp/soak"), seconds=600, feeds=1000))

Set-up, as an operator would: topics and subscribers with the CLI, the feeds from an OPML file;
then two `notifier worker`, two `notifier beat` and one `notifier run` (cast.py). Once every feed
has had its first poll (its items are the baseline, never alerted), stories are published at
random moments (world.py) while the chaos loop breaks and restarts one part at a time. After
`seconds`, the chaos stops and the service drains (bounded); what arrived at the webhook and
SMTP sinks is counted against what was published (count.py), and the ledger beside it.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from notifier.alerts import overview
from tests.faults.harness import own_redis, service_env
from tests.faults.soak import count
from tests.faults.soak.cast import ALONE, Cast, chaos
from tests.faults.soak.world import READERS, TOPICS, Newsroom
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink, SmtpSink

__all__ = ["Soak", "SoakError", "failed", "run_soak"]


class SoakError(Exception):
    """The soak could not get going (the service never took its first polls)."""


@dataclass(frozen=True)
class Soak:
    root: Path  # logs, data dirs and the Redis files go here
    seconds: float = 600.0
    feeds: int = 1000
    interval: int = 10  # seconds between two polls of a feed
    stories_per_second: float = 2.0
    chaos_gaps: tuple[float, float] = (4.0, 15.0)  # seconds between two breaks, at random
    drain_timeout: float = 300.0
    sink_delay: float = 0.2  # seconds the receivers take over each alert: more sends cut by a kill
    lease: int = 15  # NOTIFIER_LEASE_SECONDS: how soon the work of a dead process is taken up
    # printed with the counts; `--seed` makes the same choices again
    seed: int = field(default_factory=lambda: random.randrange(10**6))


def failed(summary: dict) -> bool:
    sinks = summary["sinks"]
    return bool(sinks["lost"] or sinks["duplicated_different_identity"] or sinks["unexpected"])


def run_soak(soak: Soak) -> dict:
    soak.root.mkdir(parents=True, exist_ok=True)
    with (
        own_redis(soak.root) as (url, _restart),
        FeedServer() as feeds,
        HttpSink() as hooks,
        SmtpSink() as smtp,
    ):
        hooks.delay = smtp.delay = soak.sink_delay
        env = service_env(
            soak.root,
            url,
            NOTIFIER_LEASE_SECONDS=str(soak.lease),
            NOTIFIER_VISIBILITY_TIMEOUT=str(soak.lease + 5),
            NOTIFIER_DEFAULT_INTERVAL=str(soak.interval),
        )
        with Service(env, soak.root) as service:
            news = Newsroom(feeds, soak.feeds, seed=soak.seed)
            set_up(service, soak, news, hooks, smtp)
            cast = Cast(service, soak.root)
            cast.start_all()
            baseline_timeout = 240 + soak.feeds / 5  # five parts starting on a busy machine
            if not wait_until(lambda: all_polled(service), baseline_timeout, 2):
                raise SoakError(f"the {soak.feeds} feeds were not all polled in {baseline_timeout:.0f} s")
            started = time.time()
            publish_under_chaos(soak, news, cast, feeds)
            chaos_seconds = time.time() - started
            drained = drain(service, news, hooks, smtp, soak)
            summary = summarise(soak, news, cast, hooks, smtp, url)
            summary["run"].update(seconds=chaos_seconds, drain_seconds=drained)
            return summary


def set_up(service: Service, soak: Soak, news: Newsroom, hooks, smtp) -> None:
    for topic in TOPICS:
        service.cli("topic", "add", topic.name, "--match", topic.expr)
    for reader in READERS:
        urls = [hooks.url(p) for p in reader.hooks] + [smtp.url(to) for to in reader.mail]
        notify = [arg for u in urls for arg in ("--notify", u)]
        topics = [arg for t in reader.topics for arg in ("--topic", t)]
        service.cli("subscriber", "add", reader.name, *notify, *topics)
    outlines = "".join(
        f'<outline type="rss" text="feed {n}" xmlUrl="{news.server.url(p)}" interval="{soak.interval}"/>'
        for n, p in enumerate(news.paths())
    )
    opml = soak.root / "feeds.opml"
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>')
    service.cli("feed", "import", str(opml))


def all_polled(service: Service) -> bool:
    return all(f["last_success"] for f in service.cli_json("feed", "list"))


def publish_under_chaos(soak: Soak, news: Newsroom, cast: Cast, feeds: FeedServer) -> None:
    """Stories at random moments (a Poisson process) while the chaos loop runs beside."""
    until, stop = time.time() + soak.seconds, threading.Event()
    breaker = threading.Thread(target=chaos, args=(cast, until, stop, soak.seed, soak.chaos_gaps))
    breaker.start()
    rand = random.Random(soak.seed + 1)
    try:
        while time.time() < until:
            time.sleep(rand.expovariate(soak.stories_per_second))
            news.publish()
            feeds.requests.clear()  # ten minutes of polls would fill the memory with their records
            feeds.arrived.clear()
    finally:
        stop.set()
        breaker.join()
    for part in cast.dead():  # everything up for the drain
        cast.service.procs.pop(part)
        cast.counts[f"{part} died by itself"] += 1
        cast.start(part)


def drain(service: Service, news: Newsroom, hooks, smtp, soak: Soak) -> float:
    """Wait (bounded) for every expected alert, then for the ledger to settle, then a lease more
    for late copies; the seconds it took."""
    start = time.time()

    def complete() -> bool:
        got = count.arrivals(hooks, smtp)
        return all((s.title, a) in got for s in news.published for a in s.expected)

    wait_until(complete, soak.drain_timeout, 1.0)
    wait_until(lambda: settled(service), max(30.0, soak.drain_timeout - (time.time() - start)), 2.0)
    time.sleep(soak.lease + 5)  # a copy resent after an interrupted send would come by now
    return time.time() - start


def whole_ledger(service: Service, url: str, stories: int) -> tuple[list[dict], dict[str, str]]:
    """Every ledger row of every story (`notifier deliveries` lists only the newest 1,000, so
    the rows come story by story, through the domain API `deliveries --story` uses)."""
    listed = service.cli_json("story", "list", "--limit", str(stories + 100))
    r = redis.Redis.from_url(url, decode_responses=True)
    rows = [d.as_json() for s in listed for d in overview.deliveries(r, story=s["id"])]
    return rows, {s["id"]: s["title"] for s in listed}


def settled(service: Service) -> bool:
    rows = service.cli_json("deliveries")
    return all(row["state"] in ("sent", "failed", "dropped") for row in rows)


def summarise(soak: Soak, news: Newsroom, cast: Cast, hooks, smtp, url: str) -> dict:
    rows, titles = whole_ledger(cast.service, url, soak.feeds + len(news.published))
    addresses = count.address_hashes(hooks, smtp, READERS)
    kills = [e["signal"] for e in cast.events]
    (soak.root / "chaos.json").write_text(json.dumps(cast.events, indent=1))  # what was broken when
    return {
        "sinks": count.tally(news.published, count.arrivals(hooks, smtp)),
        "ledger": count.ledger_view(rows, titles, addresses, news.published),
        "run": {
            "seed": soak.seed,
            "feeds": soak.feeds,
            "interval": soak.interval,
            "restarts": len(cast.events),
            "sigkill": kills.count("SIGKILL"),
            "sigterm": kills.count("SIGTERM"),
            "sigkill_supervisor_alone": kills.count(ALONE),
            "left_processes_behind": sum(bool(e.get("left_behind")) for e in cast.events),
            "forced_after_sigterm": sum(e["forced"] for e in cast.events),
            "by_part": dict(cast.counts),
        },
    }
