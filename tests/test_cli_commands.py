"""The commands themselves, through the installed `notifier` script against a real Redis:
what each prints, what it stores, and that a refusal leaves everything stored as it was."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from notifier.alerts import ledger
from notifier.models import Story, url_hash
from notifier.stories import claim, store
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.sinks import free_port
from tests.test_cli import all_refused, refused, run_cli

STORY_KEYS = {"id", "feed_id", "title", "link", "published", "summary", "cluster", "cluster_size"}
FEED_KEYS = {"id", "url", "name", "enabled", "interval", "last_success", "last_error", "next_poll"}
DELIVERY_KEYS = {"id", "story", "subscriber", "target", "state", "attempts", "last_error"}
HOOK_A, HOOK_B = "json://127.0.0.1:9/a", "json://127.0.0.1:9/b"


@pytest.fixture
def cli(redis_url, tmp_path):
    return lambda *args, **env: run_cli(redis_url, tmp_path, *args, **env)


def ok(done) -> str:
    assert done.returncode == 0 and "Traceback" not in done.stderr, done
    return done.stdout


def everything(r) -> dict:
    """Every key with its serialised value: what 'nothing stored changed' compares."""
    return {key: r.dump(key) for key in sorted(r.keys("*"))}


def seed_story(r, sid: str, feed_id: str, title: str, published: datetime | None, baseline=False) -> None:
    story = Story(sid, feed_id, title, f"https://n.example/{sid}", published, f"about {title}", sid)
    claim.claim_stories(r, feed_id, [story], story_ttl=3600, title_ttl=600, pending_at=0, baseline=baseline)


def test_refusals_leave_everything_stored_as_it_was(cli, r, tmp_path):
    ok(cli("topic", "add", "storms", "--match", "storm"))
    ok(cli("subscriber", "add", "ann", "--notify", HOOK_A, "--topic", "storms"))
    [sent] = ledger.create(r, [("s1", "ann", url_hash(HOOK_A), "json://127.0.0.1")], ttl=3600, lease_until=0)
    ledger.sent_many(r, [sent])
    before = everything(r)
    oversized = tmp_path / "big.xml"
    oversized.write_bytes(b"<rss>" + b" " * 3000 + b"</rss>")
    refusals = [
        (["topic", "add", "storms", "--match", "flood"], ["exists already", "--replace"]),
        (["subscriber", "add", "ann", "--notify", HOOK_B, "--topic", "storms"], ["exists already"]),
        (
            ["subscriber", "add", "bob", "--notify", HOOK_B + "?rate=fast", "--topic", "storms"],
            ["not a rate"],
        ),
        (["subscriber", "add", "bob", "--notify", HOOK_B, "--topic", "nope"], ["unknown topic"]),
        (["subscriber", "update", "ann", "--add-notify", HOOK_B + "?rate=fast"], ["not a rate"]),
        (["subscriber", "update", "ann", "--add-notify", HOOK_B, "--add-topic", "nope"], ["unknown topic"]),
        (["subscriber", "update", "ann", "--remove-notify", HOOK_B], ["has no notification URL"]),
        (["subscriber", "update", "ann", "--remove-notify", HOOK_A], ["no notification URL left"]),
        (["subscriber", "update", "ann", "--remove-topic", "nope"], ["does not follow"]),
        (["subscriber", "update", "ann", "--remove-topic", "storms"], ["no topic"]),
        (["subscriber", "update", "ann", "--add-notify", HOOK_A], ["already has"]),
        (["subscriber", "update", "ann"], ["nothing to change"]),
        (["topic", "remove", "storms"], ["followed by ann", "--remove-topic"]),
        (["deliveries", "retry", sent], ["is sent", "failed or dropped"]),
        (["parse", str(oversized)], ["NOTIFIER_FETCH_MAX_BYTES"]),
    ]
    all_refused(cli, refusals)
    assert everything(r) == before
    assert "secret" not in cli("subscriber", "update", "ann", "--remove-notify", "json://secret@h/x").stderr


def test_topic_add_replace_and_remove(cli, r):
    assert (
        ok(cli("topic", "add", "storms", "--match", "storm", "--urgent")) == "topic storms: storm (urgent)\n"
    )
    ok(cli("topic", "add", "storms", "--match", "storm OR flood", "--replace"))
    assert json.loads(ok(cli("topic", "list", "--json"))) == [
        {"name": "storms", "match": "storm OR flood", "urgent": False, "min_sources": 1, "urgent_sources": 0}
    ]
    ok(cli("topic", "remove", "storms"))
    assert store.list_topics(r) == [] and not r.exists("topic:storms:subs", "topic:storms:targets")


def test_subscriber_update_and_remove_keep_the_topic_indexes_right(cli, r):
    for name in ("storms", "floods"):
        ok(cli("topic", "add", name, "--match", name))
    shown = ok(cli("subscriber", "add", "ann", "--notify", HOOK_A, "--topic", "storms"))
    assert shown.startswith("subscriber ann: 1 URL(s) (json://127.0.0.1); topics: storms")
    ok(cli("subscriber", "update", "ann", "--add-notify", HOOK_B, "--add-topic", "floods"))
    for topic in ("storms", "floods"):
        assert r.smembers(f"topic:{topic}:subs") == {"ann"} and r.hlen(f"topic:{topic}:targets") == 2

    ok(cli("subscriber", "update", "ann", "--remove-notify", HOOK_A, "--remove-topic", "storms"))
    assert r.smembers("topic:storms:subs") == set() and r.hlen("topic:storms:targets") == 0
    assert set(r.hgetall("topic:floods:targets")) == {store.target_field("ann", HOOK_B)}
    assert store.get_subscriber(r, "ann").urls == (HOOK_B,)

    store.disable_url(r, "ann", url_hash(HOOK_B))  # it failed for good; adding it again re-enables it
    assert r.hlen("topic:floods:targets") == 0
    ok(cli("subscriber", "update", "ann", "--add-notify", HOOK_B))
    assert store.get_subscriber(r, "ann").disabled == () and r.hlen("topic:floods:targets") == 1

    ok(cli("topic", "remove", "storms"))  # nobody follows it any more
    refused(cli("topic", "remove", "floods"), "followed by ann")
    ok(cli("subscriber", "remove", "ann"))
    assert json.loads(ok(cli("subscriber", "list", "--json"))) == []
    assert not r.exists("topic:floods:subs", "topic:floods:targets")
    ok(cli("topic", "remove", "floods"))


def test_feed_add_interval_disable_and_enable(cli, r):
    feed_id = ok(cli("feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "10")).strip()
    again = cli("feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "99")
    assert again.stdout == f"{feed_id}\n" and "already watching" in again.stderr
    [feed] = json.loads(ok(cli("feed", "list", "--json")))
    assert FEED_KEYS <= set(feed) and feed["interval"] == 10 and feed["enabled"]
    ok(cli("feed", "disable", "http://127.0.0.1:9/f.xml"))
    assert not store.get_feed(r, feed_id).enabled and r.zscore("feeds:due", feed_id) is None
    refused(cli("poll", feed_id), "disabled")
    ok(cli("feed", "enable", feed_id))
    assert store.get_feed(r, feed_id).enabled and r.zscore("feeds:due", feed_id) is not None


def test_poll_prints_new_stories_and_fails_with_one_line_when_the_fetch_fails(cli, r):
    with FeedServer() as feeds:
        first, second = (
            Item("Storm hits the coast", "https://n.example/1"),
            Item("Flood warning", "https://n.example/2"),
        )
        feeds.set("/f.xml", rss([first]))
        feed_id = ok(cli("feed", "add", feeds.url("/f.xml"))).strip()
        assert ok(cli("poll", feed_id)) == ""  # the first poll is the baseline: nothing is new
        feeds.set("/f.xml", rss([second, first]))
        [line] = ok(cli("poll", feed_id)).splitlines()
    story = json.loads(line)
    assert STORY_KEYS <= set(story) and story["title"] == "Flood warning" and story["feed_id"] == feed_id
    assert r.zscore("stories:pending", story["id"]) is not None

    dead = ok(cli("feed", "add", f"http://127.0.0.1:{free_port()}/feed.xml")).strip()
    done = cli("poll", dead)
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.startswith(f"notifier: poll of {dead} failed: ") and done.stderr.count("\n") == 1
    assert store.get_feed(r, dead).errors == 1


def test_story_list_newest_first_with_baseline_stories_and_filters(cli, r):
    wire = store.add_feed(r, "https://wire.example/feed", "Wire", 60)
    local = store.add_feed(r, "https://local.example/feed", "Local", 60)
    seed_story(r, "old", wire.id, "Storm warning for the coast", datetime(2026, 1, 1, tzinfo=UTC))
    seed_story(
        r, "base", wire.id, "Storm clouds gather again", datetime(2026, 2, 1, tzinfo=UTC), baseline=True
    )
    seed_story(r, "new", local.id, "Election results are in", datetime(2026, 3, 1, tzinfo=UTC))
    seed_story(r, "undated", local.id, "Council meets tonight", None)  # first seen now: the newest
    r.set("story:notice1", json.dumps({"id": "notice1", "title": "Feed disabled", "notice": True}))
    ok(cli("topic", "add", "storms", "--match", "storm"))

    def listed(*args: str) -> list[str]:
        return [s["id"] for s in json.loads(ok(cli("story", "list", "--json", *args)))]

    assert listed() == ["undated", "new", "base", "old"]
    assert listed("--feed", wire.id) == listed("--feed", wire.url) == ["base", "old"]
    assert listed("--topic", "storms") == ["base", "old"]
    assert listed("--limit", "2") == ["undated", "new"]
    [story] = json.loads(ok(cli("story", "list", "--json", "--limit", "1", "--feed", wire.id)))
    assert STORY_KEYS <= set(story) and story["published"] == "2026-02-01T00:00:00Z"
    assert (story["cluster"], story["cluster_size"], story["feed_id"]) == ("base", 1, wire.id)
    assert "Storm clouds gather again" in ok(cli("story", "list"))


def test_story_show_deliveries_retry_and_status(cli, r):
    seed_story(r, "s1", "f1", "Storm hits the coast", datetime(2026, 3, 1, tzinfo=UTC))
    rows = [
        ("s1", "ann", url_hash(HOOK_A), "json://127.0.0.1"),
        ("s1", "bob", url_hash(HOOK_B), "json://127.0.0.1"),
    ]
    failed, sent = ledger.create(r, rows, ttl=3600, lease_until=0)
    ledger.finish(r, failed, "failed", error="HTTP 500")
    ledger.sent_many(r, [sent])

    shown = json.loads(ok(cli("story", "show", "s1", "--json")))
    assert STORY_KEYS <= set(shown) and {d["id"] for d in shown["deliveries"]} == {failed, sent}
    listed = json.loads(ok(cli("deliveries", "--json")))
    assert all(DELIVERY_KEYS <= set(d) for d in listed) and len(listed) == 2
    assert [d["id"] for d in json.loads(ok(cli("deliveries", "--json", "--failed")))] == [failed]
    assert [d["id"] for d in json.loads(ok(cli("deliveries", "--json", "--subscriber", "bob")))] == [sent]

    assert "will be sent again" in ok(cli("deliveries", "retry", failed))
    assert ledger.get(r, failed).state == "retrying" and r.zscore("deliveries:due", failed) <= time.time()
    refused(cli("deliveries", "retry", failed), "is retrying")

    status = json.loads(ok(cli("status", "--json")))
    assert set(status) >= {
        "feeds",
        "queues",
        "deliveries",
        "deliveries_waiting",
        "stories_waiting",
        "failing_urls",
    }
    assert status["deliveries"]["failed"] == 1 and status["deliveries_waiting"] == 1
    assert set(status["queues"]) == {"tick", "poll", "deliver"}
    table = ok(cli("status"))
    assert all(title in table for title in ("feeds", "queues", "deliveries", "waiting", "failing URLs"))


def test_topic_min_sources_and_subscriber_updates_are_stored_and_shown(cli, r):
    ok(cli("topic", "add", "quakes", "--match", "earthquake", "--min-sources", "2"))
    ok(cli("subscriber", "add", "ann", "--notify", HOOK_A, "--topic", "quakes", "--updates"))
    assert store.list_topics(r)[0].min_sources == 2 and store.get_subscriber(r, "ann").updates
    [topic] = json.loads(ok(cli("topic", "list", "--json")))
    assert topic["min_sources"] == 2
    [sub] = json.loads(ok(cli("subscriber", "list", "--json")))
    assert sub["updates"] is True
    refused(cli("topic", "add", "bad", "--match", "x", "--min-sources", "0"), "--min-sources")
