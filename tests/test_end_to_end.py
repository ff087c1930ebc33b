"""A story travels from a feed to inboxes and webhooks through a real worker, beat and Redis.

Everything is real and on 127.0.0.1: a feed server, an SMTP server (aiosmtpd), an HTTP sink
for `json://`, Redis, and `notifier worker` / `notifier beat` subprocesses. A "nothing is sent"
check is closed by a later story that must arrive: once it has, the earlier one had its chance.
"""

from __future__ import annotations

import re

import pytest

from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, SmtpSink

pytestmark = pytest.mark.e2e

BASE = [
    Item(
        "Parliament passes the annual budget after long debate",
        "https://news.example.com/budget",
        guid="b-1",
        summary="The vote was close.",
    ),
    Item(
        "Storm closes schools across the northern region",
        "https://news.example.com/storm",
        guid="s-1",
        summary="Schools shut for two days.",
    ),
]


@pytest.fixture
def stack(tmp_path, redis_url):
    with FeedServer() as feeds, SmtpSink() as smtp, HttpSink() as hooks:
        env = service_env(
            tmp_path,
            redis_url,
            NOTIFIER_LEASE_SECONDS="6",
            NOTIFIER_VISIBILITY_TIMEOUT="8",
            NOTIFIER_RETRY_BASE_DELAY="0.5",
        )
        with Service(env, tmp_path) as service:
            yield service, feeds, smtp, hooks


def configure(service, feeds, smtp, hooks, items=BASE):
    feeds.set("/world.xml", rss(items))
    feed_id = service.cli(
        "feed", "add", feeds.url("/world.xml"), "--interval", "1", "--name", "World"
    ).stdout.strip()
    service.cli("topic", "add", "mideast", "--match", "Israel OR Gantz")
    service.cli("topic", "add", "football", "--match", '"world cup" NOT women')
    service.cli(
        "subscriber",
        "add",
        "alice",
        "--notify",
        smtp.url("alice@example.com"),
        "--notify",
        hooks.url("/alice"),
        "--topic",
        "mideast",
    )
    service.cli("subscriber", "add", "bob", "--notify", smtp.url("bob@example.com"), "--topic", "football")
    return feed_id


def baseline_done(service, feed_id):
    return any(f["id"] == feed_id and f["last_success"] for f in service.cli_json("feed", "list"))


def publish(feeds, path, *new_items, keep=BASE):
    feeds.set(path, rss([*new_items, *keep]))


def test_a_new_matching_story_reaches_each_matching_subscriber_once(stack):
    service, feeds, smtp, hooks = stack
    feed_id = configure(service, feeds, smtp, hooks)
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

    story = Item(
        "Gantz quits Israel war cabinet over Gaza plan",
        "https://news.example.com/gantz?id=7",
        guid="g-1",
        summary="Benny Gantz left the war cabinet on Sunday.",
    )
    publish(feeds, "/world.xml", story)
    assert wait_until(lambda: len(hooks.requests) >= 1 and len(smtp.messages) >= 1), service.logs()
    assert wait_until(lambda: service.cli_json("deliveries")[0]["state"] == "sent")

    # cold start sent nothing: the two baseline stories never arrived anywhere
    [mail] = smtp.for_recipient("alice@example.com")
    assert mail["Subject"] == story.title
    assert "https://news.example.com/gantz?id=7" in mail.get_body(("plain",)).get_content()
    assert 'href="https://news.example.com/gantz?id=7"' in mail.get_body(("html",)).get_content()
    assert "/unsubscribe/" in mail["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [hook] = hooks.json_bodies("/alice")
    assert hook["title"] == story.title and "Benny Gantz" in hook["message"]
    assert smtp.for_recipient("bob@example.com") == []

    # the same story again: changed guid; same link with tracking in another feed; same title
    publish(feeds, "/world.xml", Item(story.title, story.link, guid="g-1-republished"), story)
    feeds.set(
        "/other.xml",
        rss(
            [
                Item(
                    "Israeli minister Gantz resigns from cabinet in protest",
                    "https://NEWS.example.com/gantz?utm_source=x&id=7#top",
                    guid="o-1",
                )
            ]
        ),
    )
    feeds.set(
        "/third.xml",
        rss(
            [
                Item(
                    "Gantz quits Israel war cabinet over Gaza plan!",
                    "https://elsewhere.example.org/a/1",
                    guid="t-1",
                )
            ]
        ),
    )
    for path in ("/other.xml", "/third.xml"):
        other = service.cli("feed", "add", feeds.url(path), "--interval", "1").stdout.strip()
        assert wait_until(lambda other=other: baseline_done(service, other))
    # the second and third feeds' first polls were baselines; now they publish the same story anew
    feeds.set(
        "/other.xml",
        rss(
            [
                Item(
                    "Gantz steps down from war cabinet",
                    "https://news.example.com/gantz/?id=7&utm_medium=rss",
                    guid="o-2",
                )
            ]
        ),
    )
    feeds.set(
        "/third.xml",
        rss(
            [
                Item(
                    "GANTZ QUITS ISRAEL WAR CABINET OVER GAZA PLAN",
                    "https://elsewhere.example.org/a/2",
                    guid="t-2",
                )
            ]
        ),
    )

    closing = Item(
        "Israel and Hamas agree to a new ceasefire",
        "https://news.example.com/ceasefire",
        guid="c-1",
        summary="Talks in Cairo ended with a deal.",
    )
    publish(feeds, "/world.xml", closing, story)
    assert wait_until(lambda: len(smtp.for_recipient("alice@example.com")) >= 2), service.logs()
    wait_until(lambda: len(hooks.requests) >= 2)
    subjects = [m["Subject"] for m in smtp.for_recipient("alice@example.com")]
    assert subjects == [story.title, closing.title]
    assert [h["title"] for h in hooks.json_bodies("/alice")] == [story.title, closing.title]
    assert smtp.for_recipient("bob@example.com") == []


def test_markup_in_a_title_and_a_javascript_link_arrive_escaped_and_unlinked(stack):
    service, feeds, smtp, hooks = stack
    feed_id = configure(service, feeds, smtp, hooks)
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

    hostile = Item(
        "Israel &lt;script&gt;alert(1)&lt;/script&gt; <b>news</b>",
        "javascript:alert(document.cookie)",
        guid="x-1",
        summary='<img src=x onerror="alert(2)"> Gantz said <script>bad()</script> hello',
    )
    publish(feeds, "/world.xml", hostile)
    assert wait_until(lambda: smtp.for_recipient("alice@example.com")), service.logs()
    [mail] = smtp.for_recipient("alice@example.com")
    html_part = mail.get_body(("html",)).get_content()
    assert "<script" not in html_part and "javascript:" not in html_part and "onerror=" not in html_part
    hrefs = re.findall(r'href="([^"]*)"', html_part)  # only our own pages are linked, never the story
    assert all(h.startswith("http://127.0.0.1") for h in hrefs), hrefs
    assert "\n" not in mail["Subject"] and "<b>" not in mail["Subject"]


def test_restarting_the_service_sends_nothing_old_and_catches_the_next_story(stack):
    service, feeds, smtp, hooks = stack
    feed_id = configure(service, feeds, smtp, hooks)
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()
    first = Item("Israel opens border crossing for aid trucks", "https://news.example.com/aid", guid="a-1")
    publish(feeds, "/world.xml", first)
    assert wait_until(lambda: smtp.for_recipient("alice@example.com")), service.logs()

    service.stop()
    second = Item("Israel reopens airport after rocket fire", "https://news.example.com/airport", guid="a-2")
    publish(feeds, "/world.xml", second, first)
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: len(smtp.for_recipient("alice@example.com")) >= 2), service.logs()
    wait_until(lambda: False, timeout=3)  # room for a wrong third alert to show up
    assert [m["Subject"] for m in smtp.for_recipient("alice@example.com")] == [first.title, second.title]


def test_killing_the_worker_mid_delivery_resends_the_alert_with_the_same_identity(tmp_path, redis_url):
    """At least once: the alert interrupted by kill -9 arrives; a second copy carries the same identity."""
    with FeedServer() as feeds, SmtpSink(delay=4.0) as smtp, HttpSink() as hooks:
        env = service_env(tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="5", NOTIFIER_VISIBILITY_TIMEOUT="6")
        with Service(env, tmp_path) as service:
            feed_id = configure(service, feeds, smtp, hooks)
            service.start_worker("w1", pool="solo")
            service.start("beat", "beat")
            assert wait_until(lambda: baseline_done(service, feed_id)), service.logs()

            story = Item("Israel recalls its ambassador", "https://news.example.com/recall", guid="k-1")
            publish(feeds, "/world.xml", story)
            # the worker is mid-SMTP (the sink holds DATA 4 s): asked of the sink, not of the CLI,
            # whose start alone can outlast the send on a busy machine
            assert wait_until(lambda: smtp.data_started > len(smtp.messages), timeout=60), service.logs()
            service.kill("w1")
            service.start_worker("w2", pool="solo")

            def settled():
                rows = service.cli_json("deliveries")
                return rows if rows and all(d["state"] in ("sent", "failed") for d in rows) else None

            rows = wait_until(settled, timeout=60)
            assert rows, service.logs()
            assert all(d["state"] == "sent" for d in rows), rows
            mails = smtp.for_recipient("alice@example.com")
            assert 1 <= len(mails) <= 2 and len({m["Message-ID"] for m in mails}) == 1, mails
            [mail_row] = [d for d in rows if d["target"].startswith("mailto")]
            assert mail_row["resent"] == 1 and "resent after interruption" in mail_row["note"]
            assert mail_row["id"] in mails[0]["Message-ID"]
            hooks_seen = [h for h in hooks.requests if h["path"] == "/alice"]
            assert 1 <= len(hooks_seen) <= 2 and {h["headers"]["Idempotency-Key"] for h in hooks_seen} == {
                d["id"] for d in rows if d["target"].startswith("json")
            }
            assert service.cli_json("status")["deliveries"].get("resent", 0) >= 1

            smtp.delay = 0
            after = Item("Israel names a new ambassador", "https://news.example.com/new-envoy", guid="k-2")
            publish(feeds, "/world.xml", after, story)
            assert wait_until(lambda: any(m["Subject"] == after.title for m in smtp.messages), timeout=40), (
                service.logs()
            )
            copies = [m for m in smtp.messages if m["Subject"] == story.title]
            assert 1 <= len(copies) <= 2 and len({m["Message-ID"] for m in copies}) == 1
