"""Celery #2599/#7009: a task whose countdown outlives the broker's visibility timeout is handed
out again, so it runs twice. We never use countdown or eta: a retry waits in `deliveries:due`.
Here a provider asks to wait 9 s (Retry-After) with the visibility timeout at 6 s: one retry,
one alert, no copy."""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e


def test_a_retry_that_waits_longer_than_the_visibility_timeout_is_sent_once(tmp_path, redis_url):
    env = service_env(tmp_path, redis_url, NOTIFIER_VISIBILITY_TIMEOUT="6")
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        hooks.responses = [(503, {"Retry-After": "9"})]
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "ports", "--match", "harbour")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "ports")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        story = Item("Harbour strike ends after a week", "https://news.example.com/h", guid="h-1")
        feeds.set("/news.xml", rss([story]))
        rows = wait_until(lambda: settled(service, 1), timeout=40)
        assert rows, service.logs()
        time.sleep(8)  # longer than the visibility timeout again: room for a redelivered copy
        statuses = [h["status"] for h in hooks.requests]
        waited = hooks.requests[1]["at"] - hooks.requests[0]["at"] if len(statuses) > 1 else 0
        report(
            "retry waits longer than the visibility timeout",
            lost=int(200 not in statuses),
            duplicated=max(0, statuses.count(200) - 1),
        )
        assert statuses == [503, 200] and waited >= 9 - 0.5, (statuses, waited)
        assert rows[0]["state"] == "sent" and rows[0]["attempts"] == 2
