"""WebSub, subscriber side: a feed that names a hub is pushed to us instead of waiting for a poll.

Everything speaks real HTTP on 127.0.0.1: a feed server, a hub written for these tests
(tests/websubhub.py), our API under uvicorn, Redis; the last test runs `notifier worker`, `beat`
and `api` as subprocesses and watches a pushed story reach a webhook sink.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

import httpx
import pytest
import uvicorn

from notifier import pipeline
from notifier.api import app
from notifier.feeds import websub, websub_callback
from notifier.feeds.parse import parse_feed
from notifier.settings import get_settings
from notifier.stories import store
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, free_port
from tests.websubhub import WebSubHub, sign

OLD = [Item("Harbour reopens after the winter storms", "https://news.example.com/harbour", guid="h-1")]
ATOM = "application/atom+xml"
NEW = Item("Volcano erupts near the coastal town overnight", "https://news.example.com/volcano", guid="v-1")


def atom(items: list[Item], hub: str | None = None, self_url: str | None = None) -> bytes:
    now = datetime.now(UTC).isoformat()
    links = "".join(
        f"<link rel={quoteattr(rel)} href={quoteattr(href)}/>"
        for rel, href in (("hub", hub), ("self", self_url))
        if href
    )
    entries = "".join(
        f"<entry><title>{escape(i.title)}</title><link href={quoteattr(i.link)}/>"
        f"<id>{escape(i.guid or i.link)}</id><updated>{now}</updated></entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Test News</title><id>urn:test</id><updated>{now}</updated>{links}{entries}</feed>"
    ).encode()


def rss_with_hub(items: list[Item], hub: str, self_url: str) -> bytes:
    links = f"<atom:link rel='hub' href={quoteattr(hub)}/><atom:link rel='self' href={quoteattr(self_url)}/>"
    atom_ns = b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
    return rss(items).replace(b'<rss version="2.0"><channel>', atom_ns + links.encode())


@pytest.fixture
def api(env, monkeypatch):
    """Our API, for real, under uvicorn in a thread; the public URL the hub calls back points at it."""
    port = free_port()
    monkeypatch.setenv("NOTIFIER_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NOTIFIER_FETCH_MAX_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=15)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def parts(api):
    with FeedServer() as feeds, WebSubHub() as hub:
        yield api, feeds, hub


def poll(r, feed_id: str) -> list[str]:
    return pipeline.poll_feeds(r, [feed_id], get_settings())


def state(r, feed_id: str) -> str | None:
    current = websub.load(r, feed_id)
    return current.state if current else None


def subscribed(r, feeds, hub, path: str = "/news.xml"):
    """A feed whose first poll subscribed it to the hub, verified; returns (feed, topic URL)."""
    topic = feeds.url(path)
    feeds.set(path, atom(OLD, hub=hub.url, self_url=topic), content_type=ATOM)
    feed = store.add_feed(r, topic, "News", 1)
    assert poll(r, feed.id) == []  # the baseline: nothing old is news
    assert wait_until(lambda: state(r, feed.id) == "verified", timeout=15), hub.verifications
    # we answer the challenge before the hub reads our answer and marks us active: wait for both
    active = lambda: any(form["hub.topic"] == topic for form in list(hub.active.values()))  # noqa: E731
    assert wait_until(active, timeout=15), hub.verifications
    return feed, topic


# --- discovery ---------------------------------------------------------------------------------


def test_the_link_header_is_preferred_to_the_hub_named_in_the_feed():
    parsed = parse_feed(
        atom(OLD, hub="https://doc-hub.example/", self_url="https://doc.example/feed"),
        feed_id="f",
        url="https://example.com/feed",
    )
    header = '<https://header-hub.example/>; rel="hub", </canonical.xml>; rel="self"'
    found = websub.discover_hub(parsed, header, "https://example.com/feed")
    assert found == ("https://header-hub.example/", "https://example.com/canonical.xml")
    assert websub.discover_hub(parsed, None) == ("https://doc-hub.example/", "https://doc.example/feed")


def test_the_topic_is_the_feed_url_when_nothing_names_itself_and_no_hub_means_none():
    parsed = parse_feed(rss(OLD), feed_id="f", url="https://example.com/feed")
    header = '<https://hub.example/>; rel="hub"'
    assert websub.discover_hub(parsed, header, "https://example.com/feed") == (
        "https://hub.example/",
        "https://example.com/feed",
    )
    assert (
        websub.discover_hub(parsed, '<https://example.com/x>; rel="alternate"', "https://example.com/feed")
        is None
    )


@pytest.mark.parametrize("where", ["atom-link-element", "rss-atom-link", "link-header"])
def test_polling_a_feed_that_names_a_hub_subscribes_to_it_and_answers_the_verification(r, parts, where):
    api, feeds, hub = parts
    topic = feeds.url("/canonical.xml")
    if where == "atom-link-element":
        feeds.set("/news.xml", atom(OLD, hub=hub.url, self_url=topic), content_type=ATOM)
    elif where == "rss-atom-link":
        feeds.set("/news.xml", rss_with_hub(OLD, hub.url, topic))
    else:
        feeds.set("/news.xml", rss(OLD), headers={"Link": f'<{hub.url}>; rel="hub", <{topic}>; rel="self"'})
    feed = store.add_feed(r, feeds.url("/news.xml"), "News", 1)
    poll(r, feed.id)

    [asked] = hub.requests
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == topic
    assert asked["hub.callback"] == f"{api}/websub/{feed.id}"
    assert asked["hub.lease_seconds"] == str(websub.LEASE_SECONDS)
    assert wait_until(lambda: state(r, feed.id) == "verified", timeout=15), hub.verifications
    [verification] = hub.verifications
    assert verification["status"] == 200 and verification["echoed"]
    current = websub.load(r, feed.id)
    assert current.secret == asked["hub.secret"] and len(current.secret) >= 32
    assert current.lease_until > time.time()


def test_a_subscribed_feed_is_not_subscribed_again_and_is_polled_only_as_a_safety_net(r, parts):
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    feeds.set("/news.xml", atom([NEW, *OLD], hub=hub.url, self_url=topic), content_type=ATOM)
    assert len(poll(r, feed.id)) == 1

    assert len(hub.requests) == 1
    polled = store.get_feed(r, feed.id)
    assert polled.interval_reason.startswith("websub")
    assert polled.next_poll - polled.last_success >= 0.9 * websub.safety_interval(get_settings())


def test_a_hub_that_refuses_the_subscription_does_not_break_the_poll(r, parts):
    _, feeds, hub = parts
    hub.status = 500
    feeds.set("/news.xml", atom(OLD, hub=hub.url), content_type=ATOM)
    feed = store.add_feed(r, feeds.url("/news.xml"), "News", 1)
    poll(r, feed.id)

    polled = store.get_feed(r, feed.id)
    assert polled.baseline_done and polled.last_success and not polled.last_error
    assert not polled.interval_reason.startswith("websub")
    current = websub.load(r, feed.id)
    assert current.state == "requested" and "answered 500" in current.last_error


# --- what the hub sends ------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["another secret", "unsigned", "unknown method", "truncated"])
def test_a_push_not_signed_with_our_secret_is_answered_but_ignored(r, parts, signature):
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    body = atom([NEW, *OLD], hub=hub.url, self_url=topic)
    secret = hub.requests[0]["hub.secret"]
    header = {
        "another secret": sign("not-the-secret", body),
        "unsigned": None,
        "unknown method": sign(secret, body).replace("sha256=", "md5="),
        "truncated": sign(secret, body)[:-2],
    }[signature]

    stories = set(r.keys("story:*"))
    assert hub.push(hub.requests[0]["hub.callback"], body, header, ATOM) == 202
    assert r.zcard("stories:pending") == 0
    assert set(r.keys("story:*")) == stories


def test_every_signature_method_of_the_recommendation_is_accepted():
    for method in ("sha1", "sha256", "sha384", "sha512"):
        assert websub_callback.signature_ok("s3cret", b"<feed/>", sign("s3cret", b"<feed/>", method))
        assert not websub_callback.signature_ok("s3cret", b"<feed/> ", sign("s3cret", b"<feed/>", method))


def test_verifications_we_did_not_ask_for_are_refused_with_404(r, parts):
    api, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    asked = hub.requests[0]

    assert hub.verify(asked, topic=feeds.url("/other.xml"))["status"] == 404
    assert hub.verify(asked, mode="unsubscribe")["status"] == 404  # nobody asked to leave
    assert hub.verify(asked)["status"] == 404  # already verified: no lease stretched by others
    assert httpx.get(f"{api}/websub/nosuchfeed", params={"hub.mode": "subscribe"}).status_code == 404
    assert httpx.post(f"{api}/websub/nosuchfeed", content=b"<feed/>").status_code == 404
    assert state(r, feed.id) == "verified"


def test_a_push_over_the_size_cap_is_refused_with_413(r, parts):
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    body = atom([Item("x " * 40_000, "https://news.example.com/big", guid="big")])
    assert hub.publish(topic, body) == [413]
    assert r.zcard("stories:pending") == 0


def test_a_subscription_near_the_end_of_its_lease_is_renewed_with_the_same_secret(r, parts):
    _, feeds, hub = parts
    hub.lease_seconds = 100
    feed, _ = subscribed(r, feeds, hub)
    first = websub.load(r, feed.id)
    assert pipeline.claim_due_work(r, get_settings()).renewals == []  # far from expiry

    later = first.lease_until - 5
    due = pipeline.claim_due_work(r, get_settings(), now=later).renewals
    assert due == [feed.id]
    pipeline.renew_subscriptions(r, due, get_settings(), now=later)
    assert wait_until(lambda: len(hub.verifications) == 2, timeout=15)
    renewed = websub.load(r, feed.id)
    assert [req["hub.mode"] for req in hub.requests] == ["subscribe", "subscribe"]
    assert hub.requests[1]["hub.secret"] == first.secret
    assert renewed.state == "verified" and renewed.lease_until > first.lease_until


def test_a_denied_subscription_is_noted_and_not_asked_again_at_the_next_poll(r, parts):
    _, feeds, hub = parts
    feed, topic = subscribed(r, feeds, hub)
    assert hub.deny(hub.requests[0], reason="quota exceeded") == 200

    current = websub.load(r, feed.id)
    assert current.state == "denied" and "quota exceeded" in current.last_error
    feeds.set("/news.xml", atom([NEW, *OLD], hub=hub.url, self_url=topic), content_type=ATOM)
    poll(r, feed.id)
    assert len(hub.requests) == 1
    assert not store.get_feed(r, feed.id).interval_reason.startswith("websub")


def test_a_feed_that_stops_naming_its_hub_is_unsubscribed(r, parts):
    _, feeds, hub = parts
    feed, _ = subscribed(r, feeds, hub)
    feeds.set("/news.xml", atom([NEW, *OLD]), content_type=ATOM)
    poll(r, feed.id)

    assert hub.requests[-1]["hub.mode"] == "unsubscribe"
    assert wait_until(lambda: websub.load(r, feed.id) is None, timeout=15), hub.verifications
    assert hub.verifications[-1]["echoed"] and hub.active == {}


# --- the whole service -------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_pushed_story_reaches_the_subscriber_without_waiting_for_a_poll_and_only_once(tmp_path, redis_url):
    port = free_port()
    public = {"NOTIFIER_API_PORT": str(port), "NOTIFIER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    env = service_env(
        tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="6", NOTIFIER_VISIBILITY_TIMEOUT="8", **public
    )
    with FeedServer() as feeds, WebSubHub() as hub, HttpSink() as sink, Service(env, tmp_path) as service:
        service.start("api", "api")
        assert wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30), service.logs()
        topic = feeds.url("/news.xml")
        feeds.set("/news.xml", rss_with_hub(OLD, hub.url, topic))
        # an hour between polls: only the push can bring the story within the test's patience
        service.cli("feed", "add", topic, "--interval", "3600", "--name", "News")
        service.cli("topic", "add", "volcano", "--match", "volcano OR earthquake")
        service.cli("subscriber", "add", "carol", "--notify", sink.url("/carol"), "--topic", "volcano")
        service.start_worker()
        service.start("beat", "beat")
        assert wait_until(lambda: hub.active, timeout=60), service.logs()

        body = rss_with_hub([NEW, *OLD], hub.url, topic)
        feeds.set("/news.xml", body)
        pushed = time.monotonic()
        assert hub.publish(topic, body) == [202]
        assert hub.publish(topic, body) == [202]  # a hub may deliver the same content twice
        assert wait_until(lambda: sink.requests, timeout=60), service.logs()
        print(f"\nWebSub push -> sink: {time.monotonic() - pushed:.2f} s")

        # closing the "only once" check: a later story must arrive, and nothing before it twice
        closing = Item("Earthquake shakes the capital at dawn", "https://news.example.com/quake", guid="q-1")
        later = rss_with_hub([closing, NEW, *OLD], hub.url, topic)
        feeds.set("/news.xml", later)
        assert hub.publish(topic, later) == [202]
        assert wait_until(lambda: len(sink.requests) >= 2, timeout=60), service.logs()
        wait_until(lambda: False, timeout=2)  # room for a wrong third alert to show up
        assert [b["title"] for b in sink.json_bodies("/carol")] == [NEW.title, closing.title]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False
