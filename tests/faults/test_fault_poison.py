"""A poison delivery: its story's record is damaged so that rendering it raises every time. It is
retried a bounded number of times, then failed with the reason; the rest of its batch is sent."""

from __future__ import annotations

import json
import time

import pytest
import redis

from notifier.alerts import ledger
from notifier.models import url_hash
from tests.faults.harness import add_feed, baseline_done, report, service_env, settled
from tests.feedserver import FeedServer
from tests.service import Service, wait_until
from tests.sinks import HttpSink

pytestmark = pytest.mark.e2e


def test_a_delivery_that_cannot_be_rendered_fails_alone_after_bounded_retries(tmp_path, redis_url):
    env = service_env(tmp_path, redis_url, NOTIFIER_DELIVERY_MAX_ATTEMPTS="3")
    with FeedServer() as feeds, HttpSink() as hooks, Service(env, tmp_path) as service:
        feed_id = add_feed(service, feeds)
        service.cli("topic", "add", "bridges", "--match", "bridge")
        service.cli("subscriber", "add", "ana", "--notify", hooks.url("/ana"), "--topic", "bridges")
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        service.start_worker("w1", pool="solo")
        service.start("beat", "beat")
        assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

        # two stories as the store keeps them; one damaged (a link that is no string), due together
        [seen] = r.zrange("stories:seen", 0, 0)
        sound = json.loads(r.get(f"story:{seen}"))
        good = {**sound, "id": "good", "title": "Bridge reopens after repairs"}
        poison = {**sound, "id": "poison", "title": "Damaged record", "link": 42}
        url = hooks.url("/ana")
        for story in (good, poison):
            r.set(f"story:{story['id']}", json.dumps(story))
            ledger.create(
                r,
                [(story["id"], "ana", url_hash(url), "json://127.0.0.1")],
                ttl=3600,
                lease_until=time.time(),
            )

        rows = wait_until(lambda: settled(service, 2), timeout=40)
        assert rows, service.logs()
        by_story = {d["story"]: d for d in rows}
        arrived = [b["title"] for b in hooks.json_bodies("/ana")]
        report(
            "poison delivery (render raises)",
            lost=int(good["title"] not in arrived),
            duplicated=max(0, arrived.count(good["title"]) - 1),
        )
        assert arrived == [good["title"]]
        assert by_story["good"]["state"] == "sent" and by_story["good"]["attempts"] == 1
        assert by_story["poison"]["state"] == "failed" and by_story["poison"]["attempts"] == 3
        assert "cannot render the alert (AttributeError" in by_story["poison"]["last_error"]
