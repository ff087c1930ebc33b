"""Feeds that get new stories while a benchmark watches: every story a different event.

    news = Newsroom(server, count=100, seed=13)   # /news/0.xml ... /news/99.xml, 50 items each
    title, at = news.publish(7)                   # a new story at the top of feed 7; time.time() of it

Headlines are made of invented words, each used once, so no two stories share the three strong
terms that would make the service take them for one event (notifier.stories.cluster) and alert
only the first. The service compares words by their first five letters, so the words are five
random letters (11 million of them), never one twice in a process. Each headline carries WORD, so one topic
(`--match bulletin`) matches them all.

A feed is the size of a news site's (50 items, ~50 KB: what LIMITS.md measured rss2email and
feedparser on), so parsing costs what it costs in the wild. Each summary starts with its own
headline's words, past the part the service compares (terms.SUMMARY_CHARS), then a paragraph
every item shares.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

from notifier.alerts import subscribers
from notifier.core.db import connect
from notifier.models import Subscriber
from notifier.settings import Settings
from notifier.stories import catalog
from tests.feeds import Item, rss
from tests.feedserver import FeedServer

WORD = "bulletin"
KEEP = 50  # items a feed serves: the newest, as a news site's feed does
LEDE = 160  # characters of a summary made of the headline's own words (the service reads 150)
_PARAGRAPH = (
    "The council said the review would take several months and that residents would be consulted "
    "before any decision. Officials declined to give further details on the cost, the timetable or "
    "the companies that had been approached, citing the ongoing negotiations. Opposition members "
    "called for an independent inquiry and asked for the documents to be published in full. A "
    "spokesperson for the ministry said more information would follow in the coming weeks. Local "
    "businesses said they had not been told what the changes would mean for them, and several asked "
    "for a meeting with the mayor before the plans go to a vote at the end of the month."
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_USED: set[str] = set()  # every word any Newsroom of this process has used: two never share one
_LOCK = threading.Lock()  # two publishing threads share the word generator


class Newsroom:
    def __init__(self, server: FeedServer, count: int, seed: int, prefix: str = "/news"):
        self.server, self.prefix = server, prefix
        self.rng = random.Random(seed)
        old = datetime.now(UTC) - timedelta(minutes=30)
        self.items = [
            [self._item(n, old - timedelta(minutes=5 * k)) for k in range(KEEP)] for n in range(count)
        ]
        self.headers: dict[int, dict[str, str]] = {}
        for n in range(count):
            self._serve(n)

    def path(self, n: int) -> str:
        return f"{self.prefix}/{n}.xml"

    def url(self, n: int) -> str:
        return self.server.url(self.path(n))

    def body(self, n: int) -> bytes:
        return rss(self.items[n], title=f"Newsroom {n}", link=f"https://n{n}.example/")

    def announce_hub(self, n: int, hub: str) -> None:
        """Feed n names `hub` (WebSub), in the Link header a hub also sends with each push."""
        self.headers[n] = {"Link": f'<{hub}>; rel="hub", <{self.url(n)}>; rel="self"'}
        self._serve(n)

    def publish(self, n: int) -> tuple[str, float]:
        """A new story at the top of feed n, served from now on; (its title, when it was served)."""
        item = self._item(n, datetime.now(UTC))
        self.items[n] = [item, *self.items[n]][:KEEP]
        at = time.time()
        self._serve(n)
        return item.title, at

    def _serve(self, n: int) -> None:
        self.server.set(self.path(n), self.body(n), headers=self.headers.get(n))

    def _item(self, n: int, when: datetime) -> Item:
        words = self._headline()
        title, slug = f"{WORD.capitalize()}: {words}", words.replace(" ", "-")
        lede = " ".join([words] * (LEDE // len(words) + 1))[:LEDE].rsplit(" ", 1)[0]
        link = f"https://n{n}.example/{slug}"
        return Item(title, link, guid=f"{n}-{slug}", summary=f"{lede}. {_PARAGRAPH}", published=when)

    def _headline(self) -> str:
        with _LOCK:
            while True:
                words = [self._word() for _ in range(5)]
                if not _USED.intersection(words) and len(set(words)) == 5:
                    _USED.update(words)
                    return " ".join(words)

    def _word(self) -> str:
        return "".join(self.rng.choices(_LETTERS, k=5))


def watch(redis_url: str, feeds: dict[str, int], notify: str) -> None:
    """What an operator types, through the same calls as the CLI (in-process: a CLI start costs
    seconds on a busy machine): `feed add URL --interval N` for each {url: interval}, one topic
    matching every story of a Newsroom, and one subscriber to it at `notify`."""
    r = connect(redis_url)
    settings = Settings(redis_url=redis_url, allow_private_hosts=True, min_interval=1)
    for n, (url, interval) in enumerate(feeds.items()):
        catalog.watch_feed(r, settings, url, interval, f"feed {n}")
    catalog.define_topic(r, "all", WORD)
    subscribers.create(r, settings, Subscriber("reader", urls=(notify,), topics=("all",)))
