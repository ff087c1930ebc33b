"""Every Redis key has an owner that removes it, or an expiry.

Traffic through the real pipeline (stories, alerts sent, held and failed, unsubscribe links
issued and used), then removals (a subscriber, a topic, a feed). Afterwards every key left either
expires or belongs to something that still exists, and no index still names what is gone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from notifier.alerts import ledger
from notifier.alerts.links import links_many, resolve_unsubscribe
from notifier.feeds import removal
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import store
from tests.sinks import HttpSink
from tests.test_delivery_rules import make_due_now, publish, quiet_now, run_ticks

# Keys that live as long as the service does: one each, or one per thing that still exists.
SINGLETONS = {
    "feeds",
    "feeds:byurl",
    "feeds:due",
    "topics",
    "subscribers",
    "stories:pending",
    "stories:seen",
    "deliveries:recent",  # a list capped at 10,000 ids
    "deliveries:due",
    "deliveries:count",
    "secret:unsubscribe",
    "heartbeat:tick",
    "websub:renew",
}
PER_FEED = re.compile(r"feed:(?P<id>[^:]+)$")
PER_TOPIC = re.compile(r"topic:(?P<name>[^:]+):(subs|targets)$")
COUNTERS = re.compile(r"metrics:\w+$")  # cumulative by design (Prometheus counters)


def orphans(r) -> list[str]:
    feeds, topics = set(r.smembers("feeds")), {t.name for t in store.list_topics(r)}
    left = []
    for key in r.scan_iter("*"):
        if r.ttl(key) > 0 or key in SINGLETONS or COUNTERS.match(key):
            continue
        if (m := PER_FEED.match(key)) and m["id"] in feeds:
            continue
        if (m := PER_TOPIC.match(key)) and m["name"] in topics:
            continue
        left.append(key)
    return sorted(left)


def test_after_traffic_and_removals_no_key_is_left_without_an_owner(env, r):
    settings = get_settings()
    with HttpSink() as sink:
        feed = store.add_feed(r, "https://n.example/feed", "News", 60)
        other = store.add_feed(r, "https://other.example/feed", "Other", 60)
        store.add_topic(r, Topic("storms", "storm"))
        store.add_topic(r, Topic("votes", "election"))
        ann = Subscriber("ann", (sink.url("/ann"), sink.url("/ann-phone")), ("storms",))
        bob = Subscriber("bob", (sink.url("/bob"),), ("storms", "votes"), quiet=quiet_now(), tz="UTC")
        store.add_subscriber(r, ann)
        store.add_subscriber(r, bob)
        sink.responses.extend([(200, {}), (404, {})])  # ann's phone answers "gone": disabled, noted
        publish(r, "Storm hits the north coast tonight", "Election results are in tonight")
        run_ticks(r, 3)
        make_due_now(r)
        run_ticks(r, 2)
        assert {d.state for d in ledger.recent(r)} >= {"sent", "failed"}

        pair = ("ann", ann.urls[0])  # the links every alert carries (sending issues them so)
        token = urlsplit(links_many(r, settings, [pair])[pair].unsubscribe_url).path.rsplit("/", 1)[1]
        assert resolve_unsubscribe(r, token) is not None

        publish(r, "Another storm is on its way")
        run_ticks(r)  # bob's alert is held for his quiet hours when he leaves
        assert r.exists("held:bob:" + ledger.url_hash(bob.urls[0]))
        store.remove_subscriber(r, "bob")
        store.remove_topic(r, "votes")
        removal.remove_feed(r, store.get_feed(r, other.id), settings)

    assert orphans(r) == []
    assert set(r.zrange("feeds:due", 0, -1)) <= {feed.id}
    assert all(r.exists(f"delivery:{did}") for did in r.zrange("deliveries:due", 0, -1))
    assert not r.exists(f"feed:{other.id}:topics") and not r.exists(f"feed:{other.id}:stories")
    assert "bob" not in r.smembers("topic:storms:subs")
