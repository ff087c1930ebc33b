"""A slow provider never delays polling: sends and polls run on separate queues and workers."""

from __future__ import annotations

import pytest

from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e


def test_polling_goes_on_while_a_slow_webhook_holds_the_delivery_worker(tmp_path, redis_url):
    with FeedServer() as feeds, HttpSink() as sink:
        sink.delay = 8.0  # every webhook call takes 8 s
        env = service_env(tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="60")
        with Service(env, tmp_path) as service:
            feeds.set("/f.xml", rss([Item("Old news about the harbour", "https://n.example/0", guid="0")]))
            feed_id = service.cli("feed", "add", feeds.url("/f.xml"), "--interval", "1").stdout.strip()
            service.cli("topic", "add", "storms", "--match", "storm")
            service.cli("subscriber", "add", "ann", "--notify", sink.url("/hook"), "--topic", "storms")
            service.start("poller", "worker", "--queues", "tick,poll", "--pool", "solo", "--name", "poller")
            service.start("sender", "worker", "--queues", "deliver", "--pool", "solo", "--name", "sender")
            service.start("beat", "beat")
            assert wait_until(lambda: service.cli_json("feed", "list")[0]["last_success"]), service.logs()

            first = Item("Storm reaches the harbour", "https://n.example/1", guid="1")
            feeds.set(
                "/f.xml", rss([first, Item("Old news about the harbour", "https://n.example/0", guid="0")])
            )
            assert wait_until(lambda: any(d["state"] == "sending" for d in service.cli_json("deliveries")))
            second = Item("Second storm warning issued", "https://n.example/2", guid="2")
            feeds.set("/f.xml", rss([second, first]))
            # the second story is found and fanned out while the first send is still stuck
            assert wait_until(lambda: len(service.cli_json("deliveries")) == 2, timeout=6), service.logs()
            assert sink.requests == []
            assert wait_until(lambda: len(sink.requests) == 2, timeout=40), service.logs()
    assert [h["title"] for h in sink.json_bodies()] == [first.title, second.title]
    assert feed_id
