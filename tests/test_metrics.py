"""Metrics: counted in each process, summed in Redis, read at /metrics.

The last test runs the service as `notifier run` splits it (tick, poll with a prefork pool,
deliver, beat and the API: five processes, polls in the pool's children) and reads /metrics
after a real poll and a real send.
"""

from __future__ import annotations

import pytest

from notifier.core import metrics
from notifier.feeds.parse import parse_feed
from notifier.stories.claim import claim_stories
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.operating import baselines_done, ready, scrape, watch
from tests.service import Service, service_env, wait_until
from tests.sinks import SmtpSink, free_port
from workers.supervisor import child_commands


def stored(r, metric) -> dict[str, float]:
    return {k: float(v) for k, v in r.hgetall(metric.key).items()}


def test_increments_wait_in_the_process_and_one_flush_adds_them_to_redis(env, r):
    metrics.flush(r)  # what earlier tests of this process counted goes out first...
    r.delete(metrics.POLLS.key, metrics.DELIVERIES.key)  # ...and is not this test's business
    metrics.POLLS.inc(outcome="changed")
    metrics.POLLS.inc(2, outcome="changed")
    metrics.delivered(["mailto://mail.example.com", "tgram://***"], "sent")
    assert stored(r, metrics.POLLS) == {}
    metrics.flush(r)
    metrics.POLLS.inc(outcome="changed")  # another process, or a later task: added, not replaced
    metrics.flush(r)
    assert stored(r, metrics.POLLS) == {"changed": 4.0}
    assert stored(r, metrics.DELIVERIES) == {"mailto\x1fsent": 1.0, "tgram\x1fsent": 1.0}


def test_a_failed_flush_keeps_the_counts_for_the_next_one(env, r):
    import redis as redis_lib

    metrics.flush(r)
    metrics.STORIES.inc(outcome="new")
    metrics.flush(redis_lib.Redis(port=1, socket_connect_timeout=0.2))
    metrics.flush(r)
    assert stored(r, metrics.STORIES) == {"new": 1.0}


def test_latency_is_counted_from_publication_or_first_sight_whichever_is_earlier():
    assert metrics.published_at({"published": "2026-01-01T00:00:00+00:00"}, 1767225700.0) == 1767225600.0
    assert metrics.published_at({"published": "2030-01-01T00:00:00+00:00"}, 100.0) == 100.0  # future date
    assert metrics.published_at({"published": None}, 100.0) == 100.0


def _claim(r, feed_id: str, items: list[Item], baseline: bool = False) -> list[str]:
    stories = parse_feed(rss(items), feed_id=feed_id, url="https://news.example.com/").stories
    return claim_stories(r, feed_id, stories, story_ttl=3600, title_ttl=3600, pending_at=0, baseline=baseline)


def test_stories_are_counted_new_once_and_duplicate_once_and_a_repoll_counts_nothing(env, r):
    metrics.flush(r)
    first = Item("Storm closes schools across the region", "https://news.example.com/storm", guid="s-1")
    _claim(r, "feed-a", [first], baseline=True)
    story = Item("Gantz quits Israel war cabinet over plan", "https://news.example.com/gantz", guid="g-1")
    _claim(r, "feed-a", [story, first])
    _claim(r, "feed-a", [story, first])  # the same items polled again
    again = Item(story.title, "https://news.example.com/gantz?utm_source=x", guid="g-1-new")
    _claim(r, "feed-a", [again, story, first])
    _claim(r, "feed-b", [Item("Gantz leaves the cabinet", story.link, guid="b-1")])  # another feed
    _claim(r, "feed-a", [again, story, first])
    metrics.flush(r)
    assert stored(r, metrics.STORIES) == {"new": 1.0, "duplicate": 2.0}


@pytest.mark.e2e
def test_metrics_after_a_real_poll_and_send_reach_the_endpoint_from_every_process(tmp_path, redis_url, r):
    port = free_port()
    env = service_env(tmp_path, redis_url, NOTIFIER_API_PORT=str(port))
    base = [Item("Council meets on Tuesday", "https://example.com/council", guid="c-1")]
    with FeedServer() as feeds, SmtpSink() as smtp, Service(env, tmp_path) as service:
        feeds.set("/world.xml", rss(base))
        [feed_id] = watch(r, [feeds.url("/world.xml")], 1, "Israel OR Gantz", [smtp.url("alice@example.com")])
        for name in ("worker-tick", "worker-poll", "worker-deliver"):
            service.start(name, *child_commands()[name][3:])
        service.start("beat", "beat")
        service.start("api", "api")
        assert wait_until(lambda: baselines_done(r, [feed_id]) and ready(port), timeout=60), service.logs()

        story = Item("Gantz quits Israel war cabinet", "https://example.com/gantz", guid="g-1")
        feeds.set("/world.xml", rss([story, *base]))
        assert wait_until(lambda: smtp.messages, timeout=30), service.logs()
        # the same story again under another guid: counted as a duplicate, not alerted
        feeds.set("/world.xml", rss([Item(story.title, story.link, guid="g-2"), story, *base]))

        def counted():
            found = scrape(port)
            done = found.get(("notifier_stories_total", ("outcome", "duplicate"))) == 1
            done = done and found.get(("notifier_polls_total", ("outcome", "not_modified")), 0) >= 1
            return found if done and found.get(("notifier_publish_to_send_seconds_count",)) == 1 else None

        found = wait_until(counted, timeout=30)
        assert found, service.logs()
    assert len(smtp.messages) == 1
    assert found[("notifier_polls_total", ("outcome", "changed"))] >= 3  # baseline, story, duplicate
    assert found[("notifier_polls_total", ("outcome", "not_modified"))] >= 1  # then 304s
    assert found[("notifier_polls_total", ("outcome", "error"))] == 0
    assert found[("notifier_stories_total", ("outcome", "new"))] == 1
    assert found[("notifier_deliveries_total", ("channel", "mailto"), ("outcome", "sent"))] == 1
    assert 0 < found[("notifier_publish_to_send_seconds_sum",)] < 30
    assert found[("notifier_publish_to_send_seconds_bucket", ("le", "+Inf"))] == 1
    for queue in ("tick", "poll", "deliver"):
        assert found[("notifier_workers_alive", ("queue", queue))] == 1
        assert ("notifier_queue_depth", ("queue", queue)) in found
    assert found[("notifier_last_tick_age_seconds",)] < 5
    assert found[("notifier_feeds_overdue",)] == 0 and ("notifier_feeds_due",) in found


def test_every_metric_the_grafana_dashboard_asks_for_is_served(env, r):
    import json
    import re

    from prometheus_client.parser import text_string_to_metric_families

    from notifier.api.metrics import scrape
    from tests.service import ROOT

    text = scrape().body.decode()
    served = {family.name for family in text_string_to_metric_families(text)}
    dashboard = json.loads((ROOT / "config" / "grafana" / "notifier-dashboard.json").read_text())
    asked = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"notifier_[a-z_]+", target["expr"])
    }
    assert asked and asked <= served, asked - served
    assert all(name.startswith("notifier_") for name in served)
