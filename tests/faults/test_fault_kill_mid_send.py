"""kill -9 of the deliver worker while a webhook receiver holds the request: the alert is sent
again with the same identity (Idempotency-Key and `delivery_id` = the delivery id), and the ledger
says it was resent after an interruption."""

from __future__ import annotations

import json

import pytest

from tests.faults.harness import HangFirstSink, add_feed, baseline_done, report, service_env, settled
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, wait_until

pytestmark = pytest.mark.e2e


def test_a_send_cut_by_kill_9_arrives_once_more_with_the_same_identity(tmp_path, redis_url):
    with (
        FeedServer() as feeds,
        HangFirstSink(hang=1) as hooks,
        Service(service_env(tmp_path, redis_url), tmp_path) as service,
    ):
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "quake", "--match", "earthquake")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "quake")
        service.start_worker("w1", pool="solo")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        story = Item("Earthquake of magnitude 6 shakes the coast", "https://news.example.com/q", guid="q-1")
        feeds.set("/news.xml", rss([story]))
        assert wait_until(lambda: hooks.hung, timeout=20), service.logs()
        service.kill("w1")  # mid-send: the receiver has the headers, not the body
        service.start_worker("w2", pool="solo")

        rows = wait_until(lambda: settled(service, 1), timeout=40)
        assert rows, service.logs()
        [row] = rows
        arrived = [json.loads(h["body"]) for h in hooks.requests if h["path"] == "/ana"]
        report("kill -9 mid-send (webhook hangs)", lost=int(not arrived), duplicated=max(0, len(arrived) - 1))
        assert row["state"] == "sent" and row["resent"] == 1
        assert "resent after interruption" in row["note"]
        assert [a["title"] for a in arrived] == [story.title]
        assert hooks.hung[0]["headers"]["Idempotency-Key"] == row["id"]
        assert hooks.requests[0]["headers"]["Idempotency-Key"] == row["id"] == arrived[0]["delivery_id"]
        assert service.cli_json("status")["deliveries"].get("resent") == 1
