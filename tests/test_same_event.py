"""One alert per event, through the real intake, fan-out and send steps, tick by tick, with a real
Redis, a real SMTP server (aiosmtpd) and a real webhook sink."""

from __future__ import annotations

import pytest

from notifier import pipeline
from notifier.alerts import ledger
from notifier.feeds.intake import claim_parsed
from notifier.feeds.parse import parse_feed
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import cluster, events, store
from tests.feeds import Item, rss
from tests.sinks import HttpSink, SmtpSink

BACKGROUND = [
    Item("Parliament passes the annual budget after long debate", "https://x.example/budget", guid="b"),
    Item("Storm closes schools across the northern region", "https://x.example/storm", guid="s"),
]
GENEVA = Item(
    "US and Iran reach 'guiding principles' in Geneva nuclear talks",
    "https://aljazeera.example/iran-talks",
    guid="aj-1",
    summary="The US and Iran reached an understanding on key guiding principles at nuclear talks in Geneva.",
)
GENEVA_AGAIN = Item(
    "Iran says 'guiding principles' agreed with US at nuclear talks",
    "https://bbc.example/iran",
    guid="bbc-1",
    summary="Iran's foreign minister says both sides agreed on a set of guiding principles in Geneva.",
)
GENEVA_UPDATE = Item(
    "UPDATE: Iran and US agree to meet again in Geneva within 2 weeks on nuclear deal",
    "https://reuters.example/iran-2",
    guid="r-2",
    summary="Iran and the US agreed guiding principles at the Geneva nuclear talks and will meet again.",
)
UKRAINE = Item(
    "Russia and Ukraine peace talks in Geneva end first day",
    "https://bbc.example/ukraine",
    guid="bbc-2",
    summary="Negotiators from Russia and Ukraine met in Geneva for US-brokered peace talks.",
)


@pytest.fixture
def sinks():
    with HttpSink() as hooks, SmtpSink() as smtp:
        yield hooks, smtp


class Outlets:
    """Feeds that publish items: each poll goes through the real intake (parse, claim, cluster)."""

    def __init__(self, r):
        self.r, self.feeds = r, {}

    def start(self, *names: str) -> None:
        for name in names:
            self.feeds[name] = store.add_feed(self.r, f"https://{name}.example/feed", name, 60)
            self.publish(name)  # the first poll is the baseline

    def publish(self, name: str, *items: Item) -> list[str]:
        feed = store.get_feed(self.r, self.feeds[name].id)
        parsed = parse_feed(rss([*items, *BACKGROUND]), feed_id=feed.id, url=feed.url)
        return claim_parsed(self.r, feed, parsed, get_settings(), pending_at=0)


def run_ticks(r, rounds: int = 2) -> None:
    settings = get_settings()
    for _ in range(rounds):
        due = pipeline.claim_due_work(r, settings)
        pipeline.send_alerts(r, pipeline.route_stories(r, due.stories, settings), settings)
        pipeline.send_alerts(r, due.deliveries, settings)


@pytest.fixture
def world(env, r, sinks):
    hooks, smtp = sinks
    store.add_topic(r, Topic("mideast", "Iran OR Geneva"))
    store.add_subscriber(r, Subscriber("ann", (hooks.url("/ann"),), ("mideast",)))
    store.add_subscriber(
        r, Subscriber("bea", (hooks.url("/bea"), smtp.url("bea@example.com")), ("mideast",), updates=True)
    )
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc", "reuters")
    return outlets, hooks, smtp


def titles(hooks, path):
    return [body["title"] for body in hooks.json_bodies(path)]


def test_two_outlets_with_one_event_under_different_headlines_alert_each_subscriber_once(world, r):
    outlets, hooks, smtp = world
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    [second] = outlets.publish("bbc", GENEVA_AGAIN)
    run_ticks(r)
    assert titles(hooks, "/ann") == [GENEVA.title]
    assert titles(hooks, "/bea") == [GENEVA.title]
    assert [m["Subject"] for m in smtp.for_recipient("bea@example.com")] == [GENEVA.title]
    view = cluster.of_story(r, second)
    assert view.id == first and view.size == 2 and view.outlets == 2
    assert cluster.of_stories(r, [first, second]) == {first: (first, 2), second: (first, 2)}
    placed = {m.id: m for m in view.members}
    assert placed[second].joined == first and placed[second].score >= cluster.THRESHOLD
    assert events.notes(r, second) == {"same_event": first, "repeats": "3"}  # ann's URL and bea's two


def test_a_substantive_update_reaches_only_the_subscriber_who_chose_updates_threaded(world, r):
    outlets, hooks, smtp = world
    outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    outlets.publish("bbc", GENEVA_AGAIN)  # another headline, nothing new: heard by nobody
    outlets.publish("reuters", GENEVA_UPDATE)
    run_ticks(r)
    assert titles(hooks, "/ann") == [GENEVA.title]
    assert titles(hooks, "/bea") == [GENEVA.title, GENEVA_UPDATE.title]
    first, update = smtp.for_recipient("bea@example.com")
    assert update["Subject"] == GENEVA_UPDATE.title
    assert update["In-Reply-To"] == first["Message-ID"] == update["References"]
    assert first["Message-ID"] != update["Message-ID"]


def test_a_different_event_with_similar_words_is_still_alerted(world, r):
    outlets, hooks, _ = world
    outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    outlets.publish("bbc", UKRAINE)
    run_ticks(r)
    assert titles(hooks, "/ann") == [GENEVA.title, UKRAINE.title]


def test_a_story_in_a_feed_when_we_started_stops_another_outlets_copy_from_alerting(env, r, sinks):
    hooks, _ = sinks
    store.add_topic(r, Topic("mideast", "Iran"))
    store.add_subscriber(r, Subscriber("ann", (hooks.url("/ann"),), ("mideast",)))
    outlets = Outlets(r)
    outlets.feeds["aljazeera"] = store.add_feed(r, "https://aljazeera.example/feed", "aljazeera", 60)
    outlets.publish("aljazeera", GENEVA)  # its first poll: a baseline
    outlets.start("bbc")
    [copy] = outlets.publish("bbc", GENEVA_AGAIN)
    run_ticks(r)
    assert hooks.requests == []
    view = cluster.of_story(r, copy)
    assert view.baseline and {m.id: m.baseline for m in view.members}[copy] is False
    assert events.notes(r, copy) == {"same_event": "baseline", "repeats": "1"}


def test_a_min_sources_topic_fires_only_when_the_second_outlet_carries_the_event(env, r, sinks):
    hooks, _ = sinks
    store.add_topic(r, Topic("confirmed", "Iran", min_sources=2))
    store.add_topic(r, Topic("fast", "Iran"))
    store.add_subscriber(r, Subscriber("cal", (hooks.url("/cal"),), ("confirmed",)))
    store.add_subscriber(r, Subscriber("dan", (hooks.url("/dan"),), ("fast",)))
    outlets = Outlets(r)
    outlets.start("aljazeera", "bbc")
    outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    assert titles(hooks, "/dan") == [GENEVA.title] and titles(hooks, "/cal") == []
    outlets.publish("bbc", GENEVA_AGAIN)
    run_ticks(r)
    assert len(titles(hooks, "/cal")) == 1 and titles(hooks, "/dan") == [GENEVA.title]
    assert {d.state for d in ledger.recent(r)} == {"sent"}
