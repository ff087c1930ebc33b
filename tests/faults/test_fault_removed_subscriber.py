"""Alerts waiting for a provider that is down when their subscriber, or one of its notification
URLs, is removed: they are dropped with the reason in the ledger, not counted as failures, and
never sent; the alert of the URL that stays is delivered once the provider returns."""

from __future__ import annotations

import pytest

from tests.faults.harness import add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e


def test_queued_alerts_of_a_removed_subscriber_or_url_are_dropped_not_failed(tmp_path, redis_url):
    env = service_env(tmp_path, redis_url)
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        hooks.responses = [(503, {})] * 10_000  # down until the list is cleared: the alerts wait
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "dams", "--match", "dam")
        ana = ("--notify", hooks.url("/ana-kept"), "--notify", hooks.url("/ana-removed"))
        service.cli("subscriber", "add", "ana", *ana, "--topic", "dams")
        service.cli("subscriber", "add", "bob", "--notify", hooks.url("/bob"), "--topic", "dams")
        service.start_worker("w1")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        story = Item("Dam gates opened after heavy rain", "https://news.example.com/dam", guid="d-1")
        feeds.set("/news.xml", rss([story]))
        tried = lambda: {h["path"] for h in hooks.requests} >= {"/ana-kept", "/ana-removed", "/bob"}  # noqa: E731
        assert wait_until(tried, timeout=20), service.logs()
        service.cli("subscriber", "remove", "bob")
        service.cli("subscriber", "update", "ana", "--remove-notify", hooks.url("/ana-removed"))
        hooks.responses.clear()  # the provider is back

        rows = wait_until(lambda: settled(service, 3), timeout=30)
        assert rows, service.logs()
        wait_until(lambda: False, timeout=2)  # room for a send that should not happen
        arrived = [h["path"] for h in hooks.requests if h["status"] == 200]
        dropped = {d["subscriber"]: d["last_error"] for d in rows if d["state"] == "dropped"}
        lost = int(arrived.count("/ana-kept") == 0) + sum(d["state"] not in ("sent", "dropped") for d in rows)
        report("subscriber and URL removed while alerts wait", lost=lost, duplicated=max(0, len(arrived) - 1))
        assert arrived == ["/ana-kept"], arrived
        assert dropped == {
            "bob": "the subscriber was removed before it was sent",
            "ana": "the notification URL was removed before it was sent",
        }, rows
        counted = service.cli_json("status")["deliveries"]
        assert counted.get("dropped_removed") == 2 and not counted.get("failed"), counted
        assert not service.cli_json("status").get("failing_urls"), "a removal is not a failing URL"
