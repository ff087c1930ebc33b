"""A webhook provider down (503 to every request) for longer than NOTIFIER_DELIVERY_MAX_AGE, with
the max age shortened to 15 s instead of waiting an hour: the alert that grew older than that
while it was down is dropped with the reason, counted in `notifier status`, never marked failed;
the alert that is still young when the provider returns is delivered. None lost silently."""

from __future__ import annotations

import pytest

from tests.faults.harness import BASELINE, add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e
MAX_AGE = 15


def test_a_provider_down_past_the_max_age_drops_the_old_alert_and_delivers_the_young_one(tmp_path, redis_url):
    env = service_env(tmp_path, redis_url, NOTIFIER_DELIVERY_MAX_AGE=str(MAX_AGE))
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        hooks.responses = [(503, {})] * 10_000  # down until the list is cleared
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "rail", "--match", "rail")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "rail")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        old = Item("Rail strike halts trains in the north", "https://news.example.com/r1", guid="r-1")
        feeds.set("/news.xml", rss([old, *BASELINE]))
        assert wait_until(lambda: len(hooks.requests) >= 3, timeout=20), service.logs()
        wait_until(lambda: False, timeout=5)  # the first alert ages while the provider stays down
        young = Item("Rail talks resume on Monday", "https://news.example.com/r2", guid="r-2")
        feeds.set("/news.xml", rss([young, old, *BASELINE]))
        dropped = lambda: [d for d in service.cli_json("deliveries") if d["state"] == "dropped"]  # noqa: E731
        assert wait_until(dropped, timeout=40), service.logs()
        hooks.responses.clear()  # the provider is back

        rows = wait_until(lambda: settled(service, 2), timeout=30)
        assert rows, service.logs()
        answered = zip(hooks.json_bodies("/ana"), hooks.requests, strict=True)
        delivered = [body["title"] for body, h in answered if h["status"] == 200]
        by_state = {d["state"]: d for d in rows}
        counted = service.cli_json("status")["deliveries"]
        silently = [d for d in rows if d["state"] not in ("sent", "dropped")]
        lost = sum(t not in delivered for t in (young.title,)) + len(silently)
        report("provider down past the max age", lost=lost, duplicated=len(delivered) - len(set(delivered)))
        assert delivered == [young.title], (delivered, rows)
        assert set(by_state) == {"sent", "dropped"}
        assert by_state["dropped"]["story"] != by_state["sent"]["story"]
        reason = by_state["dropped"]["last_error"]
        assert reason.startswith(f"older than {MAX_AGE} s") and "http 503" in reason, reason
        assert counted.get("dropped_stale") == 1 and not counted.get("failed"), counted
        assert by_state["sent"]["outages"] >= 1 and by_state["sent"]["attempts"] > by_state["sent"]["outages"]
