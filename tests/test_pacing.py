"""Destinations are paced across workers: two real workers share one bucket in Redis."""

from __future__ import annotations

import re
import time

import pytest

from notifier import pipeline
from notifier.alerts import ledger, pacing
from notifier.feeds.parse import parse_feed
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import claim, store
from tests.feeds import Item, rss
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink

STORIES = [f"Storm number {n} reaches the coast tonight" for n in range(12)]


def publish(r, titles):
    items = [Item(t, f"https://n.example/{abs(hash(t))}", guid=t) for t in titles]
    stories = parse_feed(rss(items), feed_id="feed1", url="https://n.example/feed").stories
    return claim.claim_stories(r, "feed1", stories, story_ttl=3600, title_ttl=600, pending_at=0)


@pytest.mark.e2e
def test_two_workers_together_never_exceed_one_destination_s_limit(tmp_path, redis_url, r):
    rate = pacing.Rate(per_second=2, burst=2)
    with HttpSink() as sink:
        env = service_env(tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="30")
        url = sink.url("/hook") + "?rate=2/s"
        store.add_topic(r, Topic("storms", "storm"))
        store.add_subscriber(r, Subscriber("ann", (url,), ("storms",)))
        with Service(env, tmp_path) as service:
            service.start_worker("w1", pool="solo")  # one task at a time each: the work has to be shared
            service.start_worker("w2", pool="solo")
            service.start("beat", "beat")
            publish(r, STORIES)
            assert wait_until(lambda: len(sink.requests) >= len(STORIES), timeout=60), service.logs()
            sent_by = [
                sum(int(n) for n in re.findall(r"sent (\d+) of", (tmp_path / f"{w}.log").read_text()))
                for w in ("w1", "w2")
            ]
        times = sorted(req["at"] for req in sink.requests)
    assert all(sent_by), f"both workers must have sent some: {sent_by}"
    assert len(times) == len(STORIES)
    slack = 0.25  # seconds between taking a token and the sink noting the request
    for i, start in enumerate(times):  # in any window, at most burst + rate * its length
        for j in range(i, len(times)):
            assert j - i + 1 <= rate.burst + rate.per_second * (times[j] - start + slack), (i, j, times)
    assert {d.state for d in ledger.recent(r)} == {"sent"}


def test_a_429_with_retry_after_holds_every_delivery_to_that_destination(env, r):
    with HttpSink() as sink:
        store.add_topic(r, Topic("storms", "storm"))
        store.add_subscriber(r, Subscriber("ann", (sink.url("/hook"),), ("storms",)))
        sink.responses.append((429, {"Retry-After": "30"}))
        settings = get_settings()

        def tick():
            due = pipeline.claim_due_work(r, settings)
            pipeline.send_alerts(r, pipeline.route_stories(r, due.stories, settings), settings)

        publish(r, STORIES[:1])
        tick()
        [first] = ledger.recent(r)
        assert first.state == "retrying" and first.next_at - time.time() > 25
        publish(r, STORIES[1:2])  # a new story for the same destination, while it said "wait"
        tick()
        assert len(sink.requests) == 1  # nothing more was tried while the provider said wait
        waiting = [d for d in ledger.recent(r) if d.id != first.id]
        assert waiting and waiting[0].state == "pending" and waiting[0].attempts == 0
        assert r.zscore("deliveries:due", waiting[0].id) > time.time() + 20
