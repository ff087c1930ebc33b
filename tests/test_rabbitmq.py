"""RabbitMQ as the broker (NOTIFIER_BROKER_URL=amqp://...), Redis as the store: feed -> alert,
exactly once, through the RabbitMQ on 127.0.0.1:5672 that these machines run.

Each run gets a vhost of its own (made and removed with rabbitmqctl), so tests running at the
same time on the machine never share a queue.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess

import pytest

from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.operating import baselines_done, ready, scrape, watch
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, SmtpSink, free_port

pytestmark = pytest.mark.e2e

AMQP = ("127.0.0.1", 5672)


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def vhost():
    try:
        socket.create_connection(AMQP, timeout=2).close()
    except OSError:
        pytest.skip("no RabbitMQ answers on 127.0.0.1:5672")
    if not shutil.which("rabbitmqctl"):
        pytest.skip("rabbitmqctl is needed to make a vhost of our own")
    name = f"notifier-test-{os.environ.get('NOTIFIER_TEST_DB', '9')}-{secrets.token_hex(4)}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


def test_with_rabbitmq_as_broker_a_story_is_alerted_exactly_once(tmp_path, redis_url, r, vhost):
    port = free_port()
    broker = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    env = service_env(tmp_path, redis_url, NOTIFIER_BROKER_URL=broker, NOTIFIER_API_PORT=str(port))
    base = [Item("Council meets on Tuesday", "https://example.com/council", guid="c-1")]
    story = Item("Gantz quits Israel war cabinet", "https://example.com/gantz", guid="g-1")
    closing = Item("Israel and Hamas agree to a ceasefire", "https://example.com/ceasefire", guid="g-3")
    with FeedServer() as feeds, SmtpSink() as smtp, HttpSink() as hooks, Service(env, tmp_path) as service:
        feeds.set("/world.xml", rss(base))
        notify = [smtp.url("alice@example.com"), hooks.url("/alice")]
        [feed_id] = watch(r, [feeds.url("/world.xml")], 1, "Israel OR Gantz", notify)
        service.start(
            "worker", "worker", "--queues", "tick,poll,deliver", "--pool", "threads", "--name", "all"
        )
        service.start("beat", "beat")
        service.start("api", "api")
        assert wait_until(lambda: baselines_done(r, [feed_id]) and ready(port), timeout=60), service.logs()

        feeds.set("/world.xml", rss([story, *base]))
        assert wait_until(lambda: smtp.messages and hooks.requests, timeout=30), service.logs()
        feeds.set("/world.xml", rss([Item(story.title, story.link, guid="g-2"), story, *base]))
        wait_until(lambda: False, timeout=3)  # the republished story gets its polls
        feeds.set("/world.xml", rss([closing, story, *base]))
        assert wait_until(lambda: len(smtp.messages) >= 2 and len(hooks.requests) >= 2, timeout=30)
        wait_until(lambda: False, timeout=2)  # room for a wrong extra alert to show up

        queues = dict(
            line.split("\t")
            for line in rabbitmqctl("list_queues", "-p", vhost, "name", "type").split("\n")
            if line
        )
        channels = rabbitmqctl("list_channels", "vhost", "confirm")
        found = scrape(port)
    assert [m["Subject"] for m in smtp.messages] == [story.title, closing.title]
    assert [h["title"] for h in hooks.json_bodies("/alice")] == [story.title, closing.title]
    assert {queues[q] for q in ("tick", "poll", "deliver")} == {"quorum"}
    assert f"{vhost}\ttrue" in channels  # publisher confirms are on
    assert not any(r.exists(q) for q in ("tick", "poll", "deliver")), "no message went through Redis"
    assert found[("notifier_deliveries_total", ("channel", "mailto"), ("outcome", "sent"))] == 2
    assert ("notifier_queue_depth", ("queue", "poll")) in found


def test_status_counts_messages_waiting_in_rabbitmq_queues(r, vhost):
    """`notifier status` asks the broker, not Redis lists, how many messages wait."""
    from kombu import Connection

    from notifier.alerts.overview import gather_status

    url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    with Connection(url) as conn:
        deliver = conn.SimpleQueue("deliver")
        for n in range(3):
            deliver.put({"n": n})
        deliver.close()
    assert gather_status(r, url)["queues"] == {"tick": 0, "poll": 0, "deliver": 3}
    unreachable = "amqp://guest:guest@127.0.0.1:1/"
    assert gather_status(r, unreachable)["queues"] == {"tick": None, "poll": None, "deliver": None}
