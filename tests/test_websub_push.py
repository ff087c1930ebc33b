"""A WebSub push wakes the pipeline at once: its stories are fanned out without waiting for a tick.

The API enqueues the fan-out task itself; the tick sees the stories only after a lease, as a
safety net. The last test runs `notifier api` and `notifier worker` with no beat at all, so no
tick ever runs: the alert can reach the webhook sink only by the push's own path.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from notifier.settings import get_settings
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, free_port
from tests.test_websub import ATOM, NEW, OLD, answers, api, atom, parts, rss_with_hub, subscribed  # noqa: F401
from tests.websubhub import WebSubHub


def test_a_signed_push_enqueues_its_story_s_fan_out_at_once_and_only_once(r, parts):  # noqa: F811 - the fixture
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    body = atom([NEW, *OLD], hub=hub.url, self_url=topic)

    assert hub.publish(topic, body, ATOM) == [202]
    [(story_id, due)] = r.zrange("stories:pending", 0, -1, withscores=True)
    assert due > time.time()  # the tick is only the safety net, after a lease
    assert r.get(f"story:{story_id}") and NEW.title in r.get(f"story:{story_id}")
    assert hub.publish(topic, body, ATOM) == [202]  # the same body again
    assert r.zcard("stories:pending") == 1
    [message] = [json.loads(raw) for raw in r.lrange("deliver", 0, -1)]  # the fan-out task, for a worker
    assert message["headers"]["task"] == "workers.tasks.fan_out"
    assert json.loads(base64.b64decode(message["body"]))[0] == [[story_id]]


def test_a_push_whose_fan_out_cannot_be_enqueued_waits_for_the_next_tick(r, parts, monkeypatch):  # noqa: F811 - the fixture
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    monkeypatch.setenv("NOTIFIER_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    assert hub.publish(topic, atom([NEW, *OLD], hub=hub.url, self_url=topic), ATOM) == [202]
    [(_, due)] = r.zrange("stories:pending", 0, -1, withscores=True)
    assert due <= time.time()


@pytest.mark.e2e
def test_a_pushed_story_is_alerted_by_a_worker_that_never_ticks(tmp_path, redis_url, r):
    port = free_port()
    public = {"NOTIFIER_API_PORT": str(port), "NOTIFIER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    env = service_env(tmp_path, redis_url, **public)
    with FeedServer() as feeds, WebSubHub() as hub, HttpSink() as sink, Service(env, tmp_path) as service:
        service.start("api", "api")
        assert wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30), service.logs()
        topic = feeds.url("/news.xml")
        feeds.set("/news.xml", rss_with_hub(OLD, hub.url, topic))
        service.cli("feed", "add", topic, "--interval", "3600", "--name", "News")
        service.cli("topic", "add", "volcano", "--match", "volcano OR earthquake")
        service.cli("subscriber", "add", "carol", "--notify", sink.url("/carol"), "--topic", "volcano")
        service.cli("poll", topic)  # the baseline, by hand: there is no beat to poll it
        assert wait_until(lambda: hub.active, timeout=30), service.logs()
        service.start_worker()  # consumes poll and deliver; beat never runs, so nothing ticks

        body = rss_with_hub([NEW, *OLD], hub.url, topic)
        assert hub.publish(topic, body) == [202]
        assert hub.publish(topic, body) == [202]  # a hub may deliver the same content twice
        assert wait_until(lambda: sink.requests, timeout=60), service.logs()
        wait_until(lambda: False, timeout=2)  # room for a wrong second alert to show up
        assert [b["title"] for b in sink.json_bodies("/carol")] == [NEW.title]
        assert r.get("heartbeat:tick") is None  # the path: no tick claimed anything
