"""Two beats at once (a second node started by mistake, or a restart overlapping the old one):
each feed is still polled once per interval, and each new story alerted once."""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import BASELINE, add_feed, baseline_done, report, service_env
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e
INTERVAL, WINDOW = 2, 12


def test_two_beats_poll_each_feed_once_per_interval_and_alert_once(tmp_path, redis_url):
    with (
        FeedServer() as feeds,
        HttpSink() as hooks,
        Service(service_env(tmp_path, redis_url), tmp_path) as service,
    ):
        feed_id = add_feed(service, feeds, interval=str(INTERVAL))
        service.cli("topic", "add", "rail", "--match", "train")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "rail")
        service.start_worker("w1")
        service.start("beat", "beat")
        service.start(
            "beat2", "beat", env={"NOTIFIER_DATA_DIR": str(tmp_path / "data2")}
        )  # own schedule file
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        before, started = len(feeds.requests_for("/news.xml")), time.monotonic()
        titles = [  # three different events: one story each (same-event stories are alerted once)
            "Night train returns to the Paris timetable",
            "Freight train derails near the river port",
            "Train drivers vote for a strike in March",
        ]
        items = list(BASELINE)
        for n, title in enumerate(titles):
            items.insert(0, Item(title, f"https://news.example.com/train/{n}", guid=f"t-{n}"))
            feeds.set("/news.xml", rss(items))
            time.sleep(WINDOW / len(titles))
        polls = len(feeds.requests_for("/news.xml")) - before
        elapsed = time.monotonic() - started
        wait_until(lambda: len(hooks.requests) >= len(titles), timeout=15)
        time.sleep(2)  # room for a second copy to show up
        arrived = [b["title"] for b in hooks.json_bodies("/ana")]
        lost = sum(t not in arrived for t in titles)
        report("two beats at once", lost=lost, duplicated=len(arrived) - len(set(arrived)))
        print(f"polls in {elapsed:.1f} s at a {INTERVAL} s interval: {polls}")
        assert 2 <= polls <= elapsed / INTERVAL + 1, polls
        assert sorted(arrived) == sorted(titles)
        assert service.procs["beat"].poll() is None and service.procs["beat2"].poll() is None, service.logs()
