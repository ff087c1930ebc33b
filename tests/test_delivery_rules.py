"""Delivery rules with real Redis, real Apprise and real HTTP sinks, driven tick by tick."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from notifier import pipeline
from notifier.alerts import ledger
from notifier.core import db
from notifier.feeds.parse import parse_feed
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import claim, store
from tests.feeds import Item, rss
from tests.sinks import HttpSink


@pytest.fixture
def sink():
    with HttpSink() as hooks:
        yield hooks


def publish(r, *titles: str) -> list[str]:
    items = [Item(t, f"https://n.example/{i}-{abs(hash(t))}", guid=t) for i, t in enumerate(titles)]
    stories = parse_feed(rss(items), feed_id="feed1", url="https://n.example/feed").stories
    return claim.claim_stories(r, "feed1", stories, story_ttl=3600, title_ttl=600, pending_at=0)


def run_ticks(r, rounds: int = 1) -> None:
    settings = get_settings()
    for _ in range(rounds):
        due = pipeline.claim_due_work(r, settings)
        pipeline.send_alerts(r, pipeline.route_stories(r, due.stories, settings), settings)
        pipeline.send_alerts(r, due.deliveries, settings)


def make_due_now(r) -> None:
    for did in r.zrange("deliveries:due", 0, -1):
        r.zadd("deliveries:due", {did: time.time() - 1})
        r.hset(f"delivery:{did}", "next_at", time.time() - 1)


def quiet_now() -> str:
    now = datetime.now(UTC)
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


def test_alerts_in_quiet_hours_are_held_then_sent_as_one_digest(env, r, sink):
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",), quiet=quiet_now(), tz="UTC"))
    publish(r, "Storm hits the north coast tonight", "Second storm expected on Friday morning")
    run_ticks(r)
    assert sink.requests == []
    assert {d.state for d in ledger.recent(r)} == {"held"}
    make_due_now(r)
    run_ticks(r)
    [digest] = sink.json_bodies("/ann")
    assert "2 new stories" in digest["title"]
    assert "Storm hits the north coast" in digest["message"] and "Second storm" in digest["message"]
    assert {d.state for d in ledger.recent(r)} == {"sent"}


def test_an_urgent_topic_passes_quiet_hours_only_for_subscribers_who_allow_it(env, r, sink):
    store.add_topic(r, Topic("quakes", "earthquake", urgent=True))
    store.add_subscriber(
        r, Subscriber("eager", (sink.url("/eager"),), ("quakes",), quiet=quiet_now(), urgent_passes=True)
    )
    store.add_subscriber(r, Subscriber("sleepy", (sink.url("/sleepy"),), ("quakes",), quiet=quiet_now()))
    publish(r, "Strong earthquake shakes the capital city")
    run_ticks(r)
    assert len(sink.json_bodies("/eager")) == 1 and sink.json_bodies("/sleepy") == []


def test_a_failing_url_is_retried_alone_with_backoff_until_it_works(env, r, sink):
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/flaky"), sink.url("/fine")), ("storms",)))
    sink.responses.append((500, {}))  # the first request, to whichever URL comes first, fails
    publish(r, "Storm hits the north coast tonight")
    run_ticks(r)
    assert sorted(d.state for d in ledger.recent(r)) == ["retrying", "sent"]
    make_due_now(r)
    run_ticks(r)
    rows = ledger.recent(r)
    assert {d.state for d in rows} == {"sent"} and max(d.attempts for d in rows) == 2
    assert len(sink.requests) == 3  # one failure, then one success per URL: nothing sent twice


def test_a_gone_webhook_is_disabled_and_its_owner_told_through_their_other_url(env, r, sink):
    with HttpSink() as gone:  # its own server: the two URLs are sent to concurrently
        gone.responses.extend([(404, {})] * 5)
        store.add_topic(r, Topic("storms", "storm"))
        store.add_subscriber(r, Subscriber("ann", (gone.url("/gone"), sink.url("/other")), ("storms",)))
        publish(r, "Storm hits the north coast tonight")
        run_ticks(r, rounds=2)
        assert store.get_subscriber(r, "ann").active_urls() == (sink.url("/other"),)
        other = [b["title"] for b in sink.json_bodies("/other")]
        assert "Storm hits the north coast tonight" in other
        assert any(t.startswith("Alerts to json://127.0.0.1 stopped") for t in other)
        publish(r, "Another storm on the way for the weekend")
        run_ticks(r)
        assert len(gone.requests) == 1  # the disabled URL got nothing more


def test_an_alert_older_than_the_maximum_age_is_dropped_not_sent_late(env, r, sink, monkeypatch):
    monkeypatch.setenv("NOTIFIER_DELIVERY_MAX_AGE", "60")
    get_settings.cache_clear()
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",)))
    sink.responses.append((500, {}))
    publish(r, "Storm hits the north coast tonight")
    run_ticks(r)
    [row] = ledger.recent(r)
    r.hset(f"delivery:{row.id}", mapping={"created": time.time() - 3600, "next_at": time.time() - 3600})
    make_due_now(r)
    r.hset(f"delivery:{row.id}", "next_at", time.time() - 3600)
    run_ticks(r)
    assert ledger.get(r, row.id).state == "dropped" and len(sink.requests) == 1


def test_a_failed_delivery_can_be_retried_by_hand_and_then_arrives(env, r, sink):

    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",)))
    sink.responses.extend([(500, {})] * 10)
    publish(r, "Storm hits the north coast tonight")
    for _ in range(get_settings().delivery_max_attempts):
        run_ticks(r)
        make_due_now(r)
    [row] = ledger.recent(r)
    assert row.state == "failed"
    sink.responses.clear()
    assert ledger.retry_by_hand(r, row.id) == "failed"  # what `deliveries retry ID` calls
    run_ticks(r)
    assert ledger.get(r, row.id).state == "sent" and sink.requests[-1]["status"] == 200


def test_status_reports_queue_depths_delivery_counts_and_a_url_that_keeps_failing(env, r, sink, capsys):
    import json

    from notifier.cli import output
    from notifier.cli.status import gather_status

    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann?token=SECRETTOKEN"),), ("storms",)))
    sink.responses.extend([(500, {})] * 10)
    publish(r, "Storm hits the north coast tonight")
    for _ in range(get_settings().delivery_max_attempts):
        run_ticks(r)
        make_due_now(r)
    capsys.readouterr()
    output.print_status(gather_status(r, db.broker_url(get_settings())), as_json=True)
    shown = capsys.readouterr().out
    status = json.loads(shown)
    assert status["deliveries"]["failed"] == 1 and status["failing_urls"] == {"ann json://127.0.0.1": 1}
    assert set(status["queues"]) == {"tick", "poll", "deliver"} and "SECRETTOKEN" not in shown


def test_a_provider_that_is_down_does_not_use_up_the_attempts(env, r, sink):
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",)))
    tries = get_settings().delivery_max_attempts + 2
    sink.responses.extend([(503, {})] * tries)
    publish(r, "Storm hits the north coast tonight")
    for _ in range(tries + 1):
        run_ticks(r)
        make_due_now(r)
    [row] = ledger.recent(r)
    assert row.state == "sent" and row.outages == tries and row.attempts == tries + 1


def test_an_alert_past_the_max_age_while_the_provider_is_down_is_dropped_with_the_reason(env, r, sink):
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",)))
    sink.responses.extend([(503, {})] * 2)
    publish(r, "Storm hits the north coast tonight")
    run_ticks(r)
    [row] = ledger.recent(r)
    age = get_settings().delivery_max_age
    r.hset(f"delivery:{row.id}", "first_try", time.time() - age - 1)  # first tried that long ago
    make_due_now(r)
    run_ticks(r)
    row = ledger.get(r, row.id)
    assert row.state == "dropped" and row.last_error.startswith(f"older than {age} s")
    assert r.hget("deliveries:count", "dropped_stale") == "1" and not r.hget("deliveries:count", "failed")


def test_a_waiting_alert_of_a_removed_subscriber_is_dropped_not_failed(env, r, sink):
    store.add_topic(r, Topic("storms", "storm"))
    store.add_subscriber(r, Subscriber("ann", (sink.url("/ann"),), ("storms",)))
    sink.responses.append((500, {}))
    publish(r, "Storm hits the north coast tonight")
    run_ticks(r)
    store.remove_subscriber(r, "ann")
    make_due_now(r)
    run_ticks(r)
    [row] = ledger.recent(r)
    assert (row.state, row.last_error) == ("dropped", "the subscriber was removed before it was sent")
    assert len(sink.requests) == 1 and not r.hgetall("failing:urls")
