"""Redis (append-only) unreachable for 30 s while the service runs: errors are logged, work
resumes when it returns, the story published during the outage is alerted once and the one
alerted before it is not taken as new again."""

from __future__ import annotations

import pytest

from tests.faults.harness import (
    BASELINE,
    add_feed,
    baseline_done,
    own_redis,
    report,
    service_env,
    settled,
)
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e


def test_redis_away_for_30_s_loses_nothing_and_repeats_nothing(tmp_path):
    with (
        own_redis(tmp_path) as (url, restart),
        FeedServer() as feeds,
        HttpSink() as hooks,
        Service(service_env(tmp_path, url), tmp_path) as service,
    ):
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "fires", "--match", "fire")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "fires")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()
        before = Item("Forest fire contained overnight", "https://news.example.com/f1", guid="f-1")
        feeds.set("/news.xml", rss([before, *BASELINE]))
        assert wait_until(lambda: hooks.requests, timeout=20), service.logs()
        # The first send's outcome must be in the ledger before Redis goes: with this test's 5 s
        # lease an outcome that cannot be written is resent by design (same Idempotency-Key;
        # test_fault_ledger_write_waits.py), which is not what this case is about.
        assert wait_until(lambda: settled(service, 1), timeout=20), service.logs()

        during = Item("New fire breaks out near the motorway", "https://news.example.com/f2", guid="f-2")
        restart(down_for=30.0, while_down=lambda: feeds.set("/news.xml", rss([during, before, *BASELINE])))
        assert wait_until(lambda: len(hooks.requests) >= 2, timeout=40), service.logs()
        wait_until(lambda: False, timeout=4)  # room for a repeat to show up
        titles = [b["title"] for b in hooks.json_bodies("/ana")]
        lost = sum(t not in titles for t in (before.title, during.title))
        report("Redis unreachable for 30 s", lost=lost, duplicated=len(titles) - len(set(titles)))
        assert titles == [before.title, during.title]
        assert "Cannot connect to redis" in service.logs()  # the outage was noticed and logged
