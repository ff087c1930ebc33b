"""Polling as a good citizen, against a real feed server and Redis (no Celery: the pipeline itself)."""

from __future__ import annotations

import time

import pytest

from notifier import pipeline
from notifier.alerts import ledger
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import store
from tests.feeds import Item, rss
from tests.feedserver import FeedServer

ITEMS = [Item("Flooding forces evacuations along the river", "https://n.example/flood", guid="f1")]


@pytest.fixture
def server():
    with FeedServer() as feeds:
        feeds.set("/f.xml", rss(ITEMS))
        yield feeds


def add(r, server, path="/f.xml", **kwargs):
    return store.add_feed(r, server.url(path), "Test feed", 60, **kwargs)


def poll(r, feed):
    return pipeline.poll_feeds(r, [feed.id], get_settings())


def test_an_unchanged_feed_is_asked_conditionally_and_not_parsed_again(env, r, server):
    feed = add(r, server)
    poll(r, feed)
    poll(r, store.get_feed(r, feed.id))
    second = server.requests_for("/f.xml")[-1]
    assert second.headers.get("If-None-Match")
    assert store.get_feed(r, feed.id).last_success


def test_the_server_s_max_age_sets_the_next_poll_unless_the_operator_forced_one(env, r, server):
    server.set("/f.xml", rss(ITEMS), headers={"Cache-Control": "max-age=900"})
    polite, forced = add(r, server), add(r, server, "/g.xml", forced=True)
    server.set("/g.xml", rss(ITEMS), headers={"Cache-Control": "max-age=900"})
    pipeline.poll_feeds(r, [polite.id, forced.id], get_settings())
    polite, forced = store.get_feed(r, polite.id), store.get_feed(r, forced.id)
    assert polite.next_poll - time.time() > 800 and "max-age 900" in polite.interval_reason
    assert forced.next_poll - time.time() < 70 and forced.interval_reason == "forced by operator"


def test_retry_after_on_429_is_honoured_and_the_error_is_recorded(env, r, server):
    feed = add(r, server)
    server.behave("/f.xml", "status", code=429, headers={"Retry-After": "1200"})
    poll(r, feed)
    feed = store.get_feed(r, feed.id)
    assert feed.errors == 1 and feed.last_error_kind == "http"
    assert feed.next_poll - time.time() > 1100 and "1200" in feed.interval_reason


def test_errors_back_off_exponentially(env, r, server):
    feed = add(r, server)
    server.behave("/f.xml", "status", code=500)
    delays = []
    for _ in range(3):
        poll(r, store.get_feed(r, feed.id))
        delays.append(store.get_feed(r, feed.id).next_poll - time.time())
    assert delays[0] < delays[1] < delays[2]


def test_a_permanent_redirect_updates_the_stored_url(env, r, server):
    feed = add(r, server, "/old.xml")
    server.behave("/old.xml", "redirect", to="/f.xml", status=301)
    poll(r, feed)
    assert store.get_feed(r, feed.id).url == server.url("/f.xml")
    assert store.find_feed(r, server.url("/f.xml")).id == feed.id


def test_410_gone_disables_the_feed_and_tells_the_operator_and_its_subscribers_once(
    env, r, server, monkeypatch
):
    monkeypatch.setenv("NOTIFIER_OPERATOR_URLS", "json://127.0.0.1:9/ops")
    get_settings.cache_clear()
    feed = add(r, server)
    store.add_topic(r, Topic("floods", "flooding"))
    store.add_subscriber(r, Subscriber("ann", ("json://127.0.0.1:9/ann",), ("floods",)))
    r.sadd(f"feed:{feed.id}:topics", "floods")  # its stories have matched this topic before
    server.behave("/f.xml", "status", code=410)
    poll(r, feed)
    feed = store.get_feed(r, feed.id)
    assert not feed.enabled and "410" in feed.interval_reason
    assert r.zscore("feeds:due", feed.id) is None
    notices = ledger.recent(r)
    assert sorted(d.subscriber for d in notices) == ["@operator", "ann"]
    poll(r, feed)  # disabled feeds are not polled, and nobody is told twice
    assert len(ledger.recent(r)) == 2


def test_a_feed_failing_long_enough_is_disabled_and_enable_rearms_it(env, r, server, monkeypatch):
    monkeypatch.setenv("NOTIFIER_DISABLE_AFTER_ERRORS", "3")
    monkeypatch.setenv("NOTIFIER_DISABLE_AFTER_SECONDS", "0")
    get_settings.cache_clear()
    feed = add(r, server)
    server.behave("/f.xml", "status", code=503)
    for _ in range(3):
        poll(r, store.get_feed(r, feed.id))
    assert not store.get_feed(r, feed.id).enabled


@pytest.mark.parametrize(
    "kind, opts, error_kind, total, read",
    [
        ("gzip_bomb", {}, "too_large", "20", "10"),  # generous clocks: only the size cap may stop it
        ("huge", {"size": 20 * 1024 * 1024}, "too_large", "20", "10"),
        ("drip", {"interval": 0.5}, "timeout", "2", "1"),  # a byte every 0.5 s never trips the read timeout
    ],
)
def test_hostile_servers_are_cut_off_and_recorded_as_errors(
    env, r, server, monkeypatch, kind, opts, error_kind, total, read
):
    monkeypatch.setenv("NOTIFIER_FETCH_TOTAL_TIMEOUT", total)
    monkeypatch.setenv("NOTIFIER_FETCH_READ_TIMEOUT", read)
    get_settings.cache_clear()
    feed = add(r, server)
    server.behave("/f.xml", kind, **opts)
    poll(r, feed)
    assert store.get_feed(r, feed.id).last_error_kind == error_kind


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>Secret &xxe; leak attempt in this headline</title><link>https://n.example/x</link>
<description>&xxe;</description></item></channel></rss>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>t</title>
<item><title>Laughs &lol9; in this headline today</title><link>https://n.example/l</link></item></channel></rss>"""


@pytest.mark.parametrize("body", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_entity_tricks_never_reach_a_story(env, r, server, body):
    feed = add(r, server)
    poll(r, feed)  # baseline
    server.set("/f.xml", body)
    new = poll(r, store.get_feed(r, feed.id))
    for story_id in new:
        text = r.get(f"story:{story_id}")
        assert "root:" not in text and "lollollol" not in text and len(text) < 10_000


def test_only_the_items_a_feed_has_not_shown_before_are_parsed(env, r, server):
    from datetime import UTC, datetime, timedelta

    from notifier.feeds import poll as poll_module
    from notifier.feeds.fetch import FetchResult
    from notifier.stories import claim

    when = datetime(2026, 11, 30, 9, tzinfo=UTC)
    old = [
        Item(
            f"Older story number {i} about the council budget",
            f"https://n.example/{i}",
            published=when - timedelta(minutes=i),
        )
        for i in range(1, 30)
    ]
    fresh = Item(
        "Bridge closed after barge strikes a pillar at night", "https://n.example/bridge", published=when
    )
    server.set("/f.xml", rss(old))
    feed = add(r, server)
    assert poll(r, feed) == []  # the first poll is read whole, as the baseline
    feed = store.get_feed(r, feed.id)
    assert len(feed.item_digests) == 16 * len(old)

    def reading(body: bytes):
        result = FetchResult(
            feed.url, feed.url, 200, body, None, None, "application/rss+xml", None, None, None, None, 0.0
        )
        return poll_module.parse_if_changed(feed, result)

    parsed, _, digests = reading(rss([fresh, *old]))
    assert [story.title for story in parsed.stories] == [fresh.title]  # 29 known items never parsed
    assert parsed.title == "Test News" and len(digests) == 16 * 30
    assert reading(rss(old, title="Test News, updated"))[0] is None  # only the channel moved: no parse

    server.set("/f.xml", rss([fresh, *old]))
    new = poll(r, feed)
    assert [claim.load_story(r, story_id)["title"] for story_id in new] == [fresh.title]
