"""How the alerts of one event are delivered, tick by tick, through the real intake, fan-out and send
steps, with a real Redis and real receivers on 127.0.0.1 (aiosmtpd; HTTP sinks standing in for an
ntfy server, a Mattermost server and JSON webhooks): urgency by breaking score, copies counted as
outlets, and updates that read as follow-ups on every channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notifier.alerts import ledger, overview
from notifier.alerts.render import render_for
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import cluster, events, store
from tests.feeds import Item
from tests.sinks import HttpSink, SmtpSink
from tests.test_same_event import GENEVA, GENEVA_AGAIN, GENEVA_UPDATE, Outlets, run_ticks

# the same event once more, in other words, with nothing new in it: not an update by itself
GENEVA_THIRD = Item(
    "Geneva nuclear talks: Iran and US agree on guiding principles",
    "https://dw.example/iran",
    guid="dw-1",
    summary="Iran and the US agreed on guiding principles at nuclear talks in Geneva, officials said.",
)
COPY = Item("Iran, US agree principles", GENEVA.link, guid="copy-1", summary="The same report, carried on.")


@pytest.fixture
def sinks():
    with HttpSink() as hooks, SmtpSink() as smtp:
        yield hooks, smtp


def quiet_now() -> str:
    """A quiet-hours window around the present moment, in UTC."""
    now = datetime.now(UTC)
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


def ntfy_posts(hooks: HttpSink) -> list[dict]:
    return [r for r in hooks.requests if r["path"] == "/"]


def test_an_exact_copy_in_another_feed_counts_as_an_outlet_and_releases_a_min_sources_topic(env, r, sinks):
    hooks, _ = sinks
    store.add_topic(r, Topic("confirmed", "Iran", min_sources=2))
    store.add_subscriber(r, Subscriber("cal", (hooks.url("/cal"),), ("confirmed",)))
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc")
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    assert hooks.requests == []
    assert events.notes(r, first)["waiting"] == "confirmed (needs 2); 1 outlet(s) when judged"
    assert outlets.publish("bbc", COPY) == []  # the same link: a copy, never a story of its own
    run_ticks(r)
    assert [b["title"] for b in hooks.json_bodies("/cal")] == [GENEVA.title]
    assert cluster.of_story(r, first).outlets == 2 and "waiting" not in events.notes(r, first)


def test_an_outlet_that_joins_while_a_waiting_story_is_judged_has_it_judged_again(env, r):
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc")
    [first] = outlets.publish("aljazeera", GENEVA)
    r.zrem("stories:pending", first)
    judged = events.event_of(r, first)  # one outlet, as the fan-out saw it...
    outlets.publish("bbc", GENEVA_AGAIN)  # ...when a second joined, before it said it waits
    events.fanned_out(r, judged, first, True, 3600)
    assert r.zscore("stories:pending", first) is not None
    assert not r.sismember(f"cl:wait:{judged.id}", first)


@pytest.fixture
def urgent_world(env, r, sinks):
    hooks, smtp = sinks
    store.add_topic(r, Topic("mideast", "Iran", min_sources=2, urgent_sources=2))
    quiet = {"quiet": quiet_now(), "tz": "UTC"}
    store.add_subscriber(
        r, Subscriber("eve", (hooks.url("/eve"),), ("mideast",), urgent_passes=True, **quiet)
    )
    store.add_subscriber(r, Subscriber("fay", (hooks.url("/fay"),), ("mideast",), **quiet))
    store.add_subscriber(r, Subscriber("gil", (f"ntfy://127.0.0.1:{hooks.port}/news",), ("mideast",)))
    store.add_subscriber(r, Subscriber("hal", (smtp.url("hal@example.com"),), ("mideast",)))
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc")
    return outlets, hooks, smtp


def test_two_outlets_within_ten_minutes_make_the_alert_urgent_with_the_channels_priority(urgent_world, r):
    outlets, hooks, smtp = urgent_world
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    assert hooks.requests == [] and smtp.messages == []
    [second] = outlets.publish("bbc", GENEVA_AGAIN)
    run_ticks(r)
    assert len(hooks.json_bodies("/eve")) == 1  # urgent passes her quiet hours: she allows it
    assert hooks.json_bodies("/fay") == []  # not his: held until they end
    assert {d.state for d in ledger.recent(r) if d.subscriber == "fay"} == {"held"}
    [push] = ntfy_posts(hooks)
    assert push["headers"]["X-Priority"] == "high"
    tags = push["headers"]["X-Tags"].split(",")
    assert "rotating_light" in tags and f"event-{first}" in tags
    [mail] = smtp.for_recipient("hal@example.com")
    assert mail["X-Priority"] == "1 (Highest)" and mail["Importance"] == "high"
    alerted = next(sid for sid in (first, second) if ledger.of_story(r, sid))
    assert overview.story_detail(r, alerted)["urgent"] == {"mideast": "urgent (2 outlets within 10 min)"}


def test_an_event_that_turns_urgent_is_announced_once_and_only_to_readers_who_chose_updates(env, r, sinks):
    hooks, _ = sinks
    store.add_topic(r, Topic("mideast", "Iran", urgent_sources=2))
    store.add_subscriber(r, Subscriber("ann", (hooks.url("/ann"),), ("mideast",)))
    store.add_subscriber(
        r,
        Subscriber(
            "bea", (hooks.url("/bea"), f"ntfy://127.0.0.1:{hooks.port}/bea"), ("mideast",), updates=True
        ),
    )
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc", "dw")
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    [second] = outlets.publish("bbc", GENEVA_AGAIN)  # nothing new, but now two outlets: urgent
    run_ticks(r)
    outlets.publish("dw", GENEVA_THIRD)  # urgent already announced: nobody hears this one
    run_ticks(r)
    assert [b["title"] for b in hooks.json_bodies("/ann")] == [GENEVA.title]
    announced = hooks.json_bodies("/bea")
    assert [b["title"] for b in announced] == [GENEVA.title, GENEVA_AGAIN.title]
    documents = [json.loads(b["message"]) for b in announced]  # our JSON, inside Apprise's envelope
    assert documents[1]["event"] == first == documents[0]["event"]
    first_alert = next(
        d.id for d in ledger.of_story(r, first) if (d.subscriber, d.target[:4]) == ("bea", "json")
    )
    assert documents[1]["update_of"] == first_alert and "update_of" not in documents[0]
    pushes = ntfy_posts(hooks)
    assert [json.loads(p["body"])["title"] for p in pushes] == [
        GENEVA.title,
        f"Update: {GENEVA.title} — {GENEVA_AGAIN.title}",
    ]
    assert [p["headers"]["X-Priority"] for p in pushes[1:]] == ["high"]
    assert all(f"event-{first}" in p["headers"]["X-Tags"].split(",") for p in pushes)
    assert events.notes(r, second)["update"] == "now urgent (2 outlets within 10 min)"
    written = [*r.scan_iter("cl:loud:*"), *r.scan_iter("story:*:urgent")]
    assert written and all(r.ttl(key) > 0 for key in written)  # they expire with the story and window


def test_email_sent_through_apprise_keeps_our_message_id_and_threads_the_update(env, r, sinks):
    _, smtp = sinks
    store.add_topic(r, Topic("mideast", "Iran OR Geneva"))
    url = smtp.url("ida@example.com") + "&cc=copy@example.com"  # cc: not the pooled path, Apprise sends it
    store.add_subscriber(r, Subscriber("ida", (url,), ("mideast",), updates=True))
    outlets = Outlets(r)
    outlets.start("aljazeera", "reuters")
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    outlets.publish("reuters", GENEVA_UPDATE)
    run_ticks(r)
    one, update = smtp.for_recipient("ida@example.com")
    assert [one["Subject"], update["Subject"]] == [GENEVA.title, GENEVA_UPDATE.title]
    assert len(one.get_all("Message-ID")) == 1 == len(update.get_all("Message-ID"))
    assert one["Message-ID"].startswith(f"<{ledger.of_story(r, first)[0].id}.notifier@")
    assert update["In-Reply-To"] == one["Message-ID"] == update["References"]
    assert one["Message-ID"] != update["Message-ID"]


def test_an_update_on_mattermost_reads_as_a_follow_up_of_the_first_alert(env, r, sinks):
    hooks, _ = sinks
    store.add_topic(r, Topic("mideast", "Iran OR Geneva"))
    url = f"mmost://127.0.0.1:{hooks.port}/abcdefghijklmnop"
    store.add_subscriber(r, Subscriber("jo", (url,), ("mideast",), updates=True))
    outlets = Outlets(r)
    outlets.start("aljazeera", "reuters")
    outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    outlets.publish("reuters", GENEVA_UPDATE)
    run_ticks(r)
    first, update = [json.loads(p["body"])["text"] for p in hooks.requests]
    assert GENEVA.title in first and not first.startswith("Update:")
    assert f"Update: {GENEVA.title} — {GENEVA_UPDATE.title}" in update


@pytest.mark.parametrize("channel", ["slack", "discord", "telegram", "mattermost"])
def test_channels_without_threads_begin_an_update_with_the_first_alerts_title(env, channel):
    from tests.test_render import URLS

    story = {"id": "s2", "title": "Talks resume", "link": "https://x.example/2", "summary": "More."}
    update = story | {"update_of": "d1", "first_title": "Talks begin in Geneva"}
    assert "Update:" not in render_for(URLS[channel], story, [], get_settings()).body
    body = render_for(URLS[channel], update, [], get_settings()).body
    assert "Update: Talks begin in Geneva — Talks resume" in body


def test_email_and_webhooks_keep_the_title_and_carry_the_thread_instead(env):
    from tests.test_render import URLS

    update = {"id": "s2", "title": "Talks resume", "link": None, "summary": "", "update_of": "d1"}
    update |= {"first_title": "Talks begin", "event": "e1"}
    assert render_for(URLS["email"], update, [], get_settings()).title == "Talks resume"
    document = json.loads(render_for(URLS["json"], update, [], get_settings()).body)
    assert (document["title"], document["update_of"], document["event"]) == ("Talks resume", "d1", "e1")


def test_web_push_tags_an_alert_with_its_event_so_an_update_replaces_the_first_and_rings(env):
    url = "webpush://push.example/sub?p256dh=key&auth=secret"
    first = {"id": "s1", "title": "Talks begin", "link": None, "summary": "", "event": "e1"}
    update = first | {"id": "s2", "title": "Talks resume", "update_of": "d1", "first_title": "Talks begin"}
    shown = json.loads(render_for(url, first, [], get_settings()).body)
    assert (shown["tag"], "renotify" in shown) == ("e1", False)
    shown = json.loads(render_for(url, update, [], get_settings()).body)
    assert (shown["tag"], shown["renotify"], shown["title"]) == (
        "e1",
        True,
        "Update: Talks begin — Talks resume",
    )
