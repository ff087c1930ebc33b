"""Three outlets publish one event under three headlines, through a real worker and beat.

Everything is real and on 127.0.0.1: a feed server with three feeds, an SMTP server, a webhook
sink, Redis, `notifier worker` and `notifier beat` subprocesses. The `--min-sources` topic and the
`--updates` subscriber are written with the domain functions the CLI calls (the CLI flags for them
are being added on main). A "nothing more is sent" check is closed by a later story that must
arrive: once it has, the earlier ones had their chance.
"""

from __future__ import annotations

import pytest
import redis as redis_lib

from notifier.models import Subscriber, Topic
from notifier.stories import store
from tests.feeds import Item, rss
from tests.feedserver import FeedServer
from tests.service import Service, service_env, wait_until
from tests.sinks import HttpSink, SmtpSink

pytestmark = pytest.mark.e2e

BACKGROUND = [
    Item("Parliament passes the annual budget after long debate", "https://n.example/budget", guid="b"),
    Item("Storm closes schools across the northern region", "https://n.example/storm", guid="s"),
    Item("Stock markets fall as oil prices rise", "https://n.example/markets", guid="m"),
]
EVENT = [
    Item(
        "US and Iran reach 'guiding principles' in Geneva nuclear talks",
        "https://one.example/iran",
        guid="1",
        summary="The US and Iran reached an understanding on guiding principles at nuclear talks in Geneva.",
    ),
    Item(
        "Iran says 'guiding principles' agreed with US at nuclear talks",
        "https://two.example/iran",
        guid="2",
        summary="Iran's foreign minister said both sides agreed on guiding principles in Geneva.",
    ),
    Item(
        "UPDATE: Iran and US to meet again in Geneva within 2 weeks after nuclear talks",
        "https://three.example/iran",
        guid="3",
        summary="Iran and the US agreed guiding principles at the Geneva nuclear talks and will meet again.",
    ),
]
OTHER = Item(
    "Iran launches a research satellite from its Semnan space centre",
    "https://one.example/satellite",
    guid="4",
    summary="The satellite reached orbit, state television said.",
)


@pytest.fixture
def stack(tmp_path, redis_url):
    with FeedServer() as feeds, SmtpSink() as smtp, HttpSink() as hooks:
        env = service_env(tmp_path, redis_url, NOTIFIER_LEASE_SECONDS="6", NOTIFIER_VISIBILITY_TIMEOUT="8")
        with Service(env, tmp_path) as service:
            yield service, feeds, smtp, hooks, redis_lib.Redis.from_url(redis_url, decode_responses=True)


def subjects(smtp, to: str) -> list[str]:
    return [m["Subject"] for m in smtp.for_recipient(to)]


def test_three_outlets_with_one_event_alert_once_and_thread_the_update_for_who_asked(stack):
    service, feeds, smtp, hooks, r = stack
    service.cli("topic", "add", "iran", "--match", "Iran")
    store.add_topic(r, Topic("iran-confirmed", "Iran", min_sources=2))
    service.cli("subscriber", "add", "alice", "--notify", smtp.url("alice@example.com"), "--topic", "iran")
    store.add_subscriber(r, Subscriber("bob", (smtp.url("bob@example.com"),), ("iran",), updates=True))
    store.add_subscriber(r, Subscriber("carol", (hooks.url("/carol"),), ("iran-confirmed",)))
    paths = ["/one.xml", "/two.xml", "/three.xml"]
    for path in paths:
        feeds.set(path, rss(BACKGROUND))
        service.cli("feed", "add", feeds.url(path), "--interval", "1")
    service.start_worker()
    service.start("beat", "beat")
    assert wait_until(lambda: all(f["last_success"] for f in service.cli_json("feed", "list"))), (
        service.logs()
    )

    feeds.set("/one.xml", rss([EVENT[0], *BACKGROUND]))
    assert wait_until(lambda: subjects(smtp, "bob@example.com")), service.logs()
    wait_until(lambda: subjects(smtp, "alice@example.com"))
    assert hooks.requests == []  # one outlet is not enough for carol's topic

    feeds.set("/two.xml", rss([EVENT[1], *BACKGROUND]))
    assert wait_until(lambda: hooks.requests), service.logs()  # the second outlet is
    feeds.set("/three.xml", rss([EVENT[2], *BACKGROUND]))
    assert wait_until(lambda: len(subjects(smtp, "bob@example.com")) >= 2), service.logs()
    feeds.set("/one.xml", rss([OTHER, EVENT[0], *BACKGROUND]))
    assert wait_until(lambda: len(subjects(smtp, "alice@example.com")) >= 2), service.logs()
    wait_until(lambda: len(subjects(smtp, "bob@example.com")) >= 3)

    assert subjects(smtp, "alice@example.com") == [EVENT[0].title, OTHER.title]
    assert subjects(smtp, "bob@example.com") == [EVENT[0].title, EVENT[2].title, OTHER.title]
    first, update, _ = smtp.for_recipient("bob@example.com")
    assert update["In-Reply-To"] == first["Message-ID"] == update["References"]
    assert len([h for h in hooks.json_bodies("/carol") if "guiding principles" in h["title"]]) == 1
