"""A second outlet that carries an exact copy of a story releases a `--min-sources` topic, and two
outlets within 10 minutes make the alert urgent: through real `notifier worker` and `notifier
beat` processes, a feed server, an SMTP server and an HTTP sink standing in for ntfy and a
webhook, all on 127.0.0.1, everything configured through the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, SmtpSink

pytestmark = pytest.mark.e2e

BACKGROUND = [
    Item("Parliament passes the annual budget after long debate", "https://n.example/budget", guid="b"),
    Item("Storm closes schools across the northern region", "https://n.example/storm", guid="s"),
]
FIRST = Item(
    "US and Iran reach 'guiding principles' in Geneva nuclear talks",
    "https://one.example/iran",
    guid="1",
    summary="The US and Iran reached an understanding on guiding principles at nuclear talks in Geneva.",
)
# the second outlet carries the same link under its own guid and headline: a copy, not a story
COPY = Item("Iran and US agree principles in Geneva", FIRST.link, guid="two-1", summary="Reported by One.")


@pytest.fixture
def stack(tmp_path, redis_url):
    with FeedServer() as feeds, SmtpSink() as smtp, HttpSink() as hooks:
        env = service_env(tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="6", NOTIFIER_VISIBILITY_TIMEOUT="8")
        with Service(env, tmp_path) as service:
            yield service, feeds, smtp, hooks


def quiet_now() -> str:
    now = datetime.now(UTC)
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


def test_a_copy_in_a_second_feed_releases_the_held_alert_and_makes_it_urgent(stack):
    service, feeds, smtp, hooks = stack
    service.cli("topic", "add", "iran", "--match", "Iran", "--min-sources", "2", "--urgent-sources", "2")
    service.cli("subscriber", "add", "cal", "--notify", hooks.url("/cal"), "--topic", "iran")
    service.cli(
        "subscriber", "add", "gil", "--notify", f"ntfy://127.0.0.1:{hooks.port}/news", "--topic", "iran"
    )
    mail = ["--notify", smtp.url("eve@example.com"), "--topic", "iran", "--quiet", quiet_now()]
    service.cli("subscriber", "add", "eve", *mail, "--urgent-passes")
    for path in ("/one.xml", "/two.xml"):
        feeds.set(path, rss(BACKGROUND))
        service.cli("feed", "add", feeds.url(path), "--interval", "1")
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: all(f["last_success"] for f in service.cli_json("feed", "list"))), (
        service.logs()
    )

    feeds.set("/one.xml", rss([FIRST, *BACKGROUND]))

    def held():
        found = [s for s in service.cli_json("story", "list") if s["title"] == FIRST.title]
        return found and found[0]["held_back"] and found[0]

    story = wait_until(held)
    assert story, service.logs()
    assert story["held_back"] == {"iran": "needs 2 outlets, has 1"}
    assert hooks.requests == [] and smtp.messages == []  # its fan-out is done, and it waits

    feeds.set("/two.xml", rss([COPY, *BACKGROUND]))
    assert wait_until(lambda: len(hooks.requests) >= 2 and smtp.messages), service.logs()
    shown = service.cli_json("story", "show", story["id"])
    assert shown["held_back"] == {} and shown["outlets"] == 2
    assert shown["urgent"] == {"iran": "urgent (2 outlets within 10 min)"}
    assert [b["title"] for b in hooks.json_bodies("/cal")] == [FIRST.title]
    [push] = [r for r in hooks.requests if r["path"] == "/"]
    assert push["headers"]["X-Priority"] == "high"
    [urgent_mail] = smtp.for_recipient("eve@example.com")  # through her quiet hours: she allows it
    assert urgent_mail["Subject"] == FIRST.title and urgent_mail["X-Priority"] == "1 (Highest)"
