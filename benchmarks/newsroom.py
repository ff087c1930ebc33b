"""Feeds that get new stories while a benchmark watches: every story a different event.

    news = Newsroom(server, count=100, seed=13)   # /news/0.xml ... /news/99.xml, three old items each
    title, at = news.publish(7)                   # a new story at the top of feed 7; time.time() of it

Headlines are made of invented words, each used once, so no two stories share the three strong
terms that would make the service take them for one event (notifier.stories.cluster) and alert
only the first. The service compares words by their first five letters, so the words are five
letters (consonant, vowel, ...: 180,000 of them). Each headline carries WORD, so one topic
(`--match bulletin`) matches them all.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

from tests.feeds import Item, rss
from tests.feedserver import FeedServer

WORD = "bulletin"
KEEP = 15  # items a feed serves: the newest, as a news site's feed does
_CONSONANTS, _VOWELS = "bcdfghjklmnprstvwxz", "aeiou"


class Newsroom:
    def __init__(self, server: FeedServer, count: int, seed: int, prefix: str = "/news"):
        self.server, self.prefix = server, prefix
        self.rng = random.Random(seed)
        self.lock = threading.Lock()  # two publishing threads share the word generator
        self.used: set[str] = set()
        old = datetime.now(UTC) - timedelta(minutes=30)
        self.items = [[self._item(n, old - timedelta(minutes=k)) for k in range(3)] for n in range(count)]
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
        title = f"{WORD.capitalize()}: {self._headline()}"
        slug = title.split(": ")[1].replace(" ", "-").lower()
        return Item(title, f"https://n{n}.example/{slug}", guid=f"{n}-{slug}", published=when)

    def _headline(self) -> str:
        with self.lock:
            while True:
                words = [self._word() for _ in range(5)]
                if not self.used.intersection(words):
                    self.used.update(words)
                    return " ".join(words)

    def _word(self) -> str:
        return "".join(self.rng.choice(_VOWELS if k % 2 else _CONSONANTS) for k in range(5))
