"""The service side of the delivery benchmark: every part of `notifier run` as it starts them, its
own redis-server. A run: K subscribers, each with its own URL, follow a topic of their own; one
story is claimed and the tick fans it out; the run lasts from the claim until the ledger counts
K sent. Every run then checks the ledger's sent count against what the sink received: a run that
lost, failed or doubled an alert raises. CPU is read with psutil for every process and Redis.
"""

from __future__ import annotations

import dataclasses
import json
import time

from benchmarks.delivery_limits import STORY, Size
from benchmarks.delivery_sinks import Sinks
from benchmarks.procs import redis_pid, start_service, wait_up
from benchmarks.profile import profiled
from benchmarks.sampler import Sampler
from benchmarks.stack import service
from notifier.alerts import pacing
from notifier.core.db import connect
from notifier.core.due import chunks
from notifier.models import Story, Subscriber, Topic
from notifier.stories import claim, store
from tests.service import wait_until

RUN_CAP = 90.0  # seconds at most per run, whatever the service manages
UNLIMITED = "100000/s"  # on every URL of an unlimited run: all share one host bucket


def plans(sinks: Sinks, size: Size) -> list[tuple[str, int, object, int]]:
    """(run name, subscribers, their URL by number, the burst the limiter lets through at once)."""
    runs = [("warm_up", 50, lambda i: sinks.hook(10**6 + i, rate=UNLIMITED), 1)]  # URLs no run uses
    for n in range(size.repeats):
        base = 10**5 * (n + 1)  # new URLs every run: each alert pays for Apprise's first parse of its URL
        runs += [
            (
                f"webhook_unlimited_{n}",
                size.subscribers,
                lambda i, b=base: sinks.hook(b + i, rate=UNLIMITED),
                1,
            ),
            (f"email_unlimited_{n}", size.emails, lambda i, b=base: sinks.mailto(b + i, rate=UNLIMITED), 1),
        ]
    webhooks, emails = size.paced
    runs += [
        ("webhook_paced", webhooks, sinks.hook, pacing.WEBHOOK_HOST.burst),
        ("email_paced", emails, sinks.mailto, pacing.SMTP_HOST.burst),
    ]
    return runs


def service_runs(sinks: Sinks, url: str, size: Size) -> dict[str, dict]:
    r = connect(url)
    runs = plans(sinks, size)
    for name, count, url_of, _ in runs:
        store.add_topic(r, Topic(_word(name), _word(name)))
        add_subscribers(r, _word(name), [url_of(i) for i in range(count)], f"{name}-")
    results = {}
    with service(url) as svc:
        pids = start_service(svc)
        pids["redis"] = redis_pid(r)
        wait_up(r, svc)
        for name, count, _, burst in runs:
            r.delete(*r.keys("rl:*") or ["-"])  # each run starts with full buckets
            try:
                with profiled(f"delivery-{name}", [pids["worker-deliver"]]):
                    results[name] = alert_run(r, sinks, name, count, burst, pids)
            except RuntimeError as error:
                raise RuntimeError(f"{error}\n{svc.logs()[-3000:]}") from None
    results.pop("warm_up")  # every worker process has loaded Apprise's plugins and opened its connections
    return results


def _word(name: str) -> str:
    """A topic per run, and a word that only that run's story contains."""
    return "zz" + name.replace("_", "")


def alert_run(r, sinks: Sinks, name: str, count: int, burst: int, pids: dict[str, int]) -> dict:
    """From the claim of one story to `count` alerts in the ledger; `steady` leaves out the tick's
    wait, the fan-out and the limiter's first burst: the rate once sends are flowing."""
    kind = "smtp" if name.startswith("email") else "http"
    base, received, meter = _counts(r), sinks.stats()[kind], Sampler(pids).start()
    started = time.monotonic()
    publish(r, _word(name))
    first, flowing, counts = None, None, base
    while time.monotonic() < started + RUN_CAP:
        counts = _counts(r)
        first = first or (time.monotonic() if counts["sent"] > base["sent"] else None)
        flowing = flowing or (time.monotonic() if counts["sent"] - base["sent"] >= burst else None)
        if counts["sent"] - base["sent"] + counts["failed"] - base["failed"] >= count:
            break
        time.sleep(0.02)
    done, cpu = time.monotonic(), meter.used()
    sent, failed = counts["sent"] - base["sent"], counts["failed"] - base["failed"]
    # the ledger records a send once it ended, so the sink may be a moment ahead, never behind
    wait_until(lambda: sinks.stats()[kind] - received == sent, timeout=5, interval=0.05)
    arrived = sinks.stats()[kind] - received
    if not count == sent == arrived or failed:
        raise RuntimeError(
            f"{name}: {count} alerts, ledger sent {sent}, failed {failed}, sink received {arrived}"
        )
    return {
        "subscribers": count,
        "sent": sent,
        "received": arrived,
        "elapsed_s": done - started,
        "alerts_per_s": sent / (done - started),
        "steady_alerts_per_s": (sent - burst) / (done - flowing) if flowing and done > flowing else 0.0,
        "cpu_s": cpu,
        "cpu_ms_per_alert": 1000 * sum(cpu.values()) / max(sent, 1),
        "cores": {part: used / (done - started) for part, used in cpu.items()},
    }


def _counts(r) -> dict[str, int]:
    sent, failed = r.hmget("deliveries:count", "sent", "failed")
    return {"sent": int(sent or 0), "failed": int(failed or 0)}


def add_subscribers(r, topic: str, urls: list[str], prefix: str) -> None:
    """Pipelined, in store.add_subscriber's own format (the CLI needs ~0.1 s per subscriber)."""
    subs = [Subscriber(f"{prefix}{i}", (url,), (topic,)) for i, url in enumerate(urls)]
    for batch in chunks(subs, 1000):
        pipe = r.pipeline(transaction=False)
        pipe.hset(
            "subscribers", mapping={s.name: json.dumps(dataclasses.asdict(s) | {"name": None}) for s in batch}
        )
        pipe.sadd(f"topic:{topic}:subs", *(s.name for s in batch))
        pipe.hset(
            f"topic:{topic}:targets",
            mapping={store.target_field(s.name, s.urls[0]): store.target_entry(s, s.urls[0]) for s in batch},
        )
        pipe.execute()
    if store.get_subscriber(r, f"{prefix}0").urls != (urls[0],):  # the store's format moved on
        raise RuntimeError("subscribers written here do not read back through notifier.stories.store")


def publish(r, word: str) -> str:
    """Claim one new story whose title matches topic `word`; it waits in stories:pending for a tick."""
    story = Story(
        id=f"bench-{word}-{time.time_ns()}",
        feed_id="bench",
        title=f"Breaking: {word} {STORY['title']}",
        link=f"{STORY['link']}/{word}",
        published=None,
        summary=STORY["summary"],
        guid=f"{word}{time.time_ns()}",
    )
    claimed = claim.claim_stories(r, "bench", [story], story_ttl=3600, title_ttl=3600, pending_at=time.time())
    if claimed != [story.id]:
        raise RuntimeError(f"story {story.id} was not claimed as new")
    return story.id
