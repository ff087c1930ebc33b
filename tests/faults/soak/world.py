"""The news the soak publishes, and who should hear of each story.

Every story is a distinct event: its title is a topic keyword or two (or none) and four words
made up for it alone, whose first five letters (all the clustering reads of a word) are its own,
so no two stories share the three terms the same-event clustering needs and no two titles
normalise alike. A tenth of the stories also turn up in a second feed with the
same link (syndication): one story still, one alert per URL. Which URLs must get a story is
worked out here from the keywords, independently of the service's own matching.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from tests.feeds import Item, rss

KEEP = 10  # items a feed keeps: a feed never changes that often between two of its polls
CONSONANTS = "bdfgklmnprstvz"
SYLLABLES = [c + v for c in CONSONANTS for v in "aeiou"]
WORDS = len(SYLLABLES) ** 2 * len(CONSONANTS)  # 68,600
BASE_WORDS = WORDS - 4 * 2000  # the baseline items' words (2,000 feeds at most), after the stories'
KEYWORDS = ["flood", "wildfire", "strike", "walkout", "election", "recount"]


@dataclass(frozen=True)
class Topic:
    name: str
    expr: str  # what the service is told
    wants: frozenset[str]  # any of these words matches ...
    unless: frozenset[str] = frozenset()  # ... unless one of these is there too


TOPICS = [
    Topic("floods", "flood", frozenset({"flood"})),
    Topic("fires", "wildfire", frozenset({"wildfire"})),
    Topic("strikes", "strike OR walkout", frozenset({"strike", "walkout"})),
    Topic("votes", "election AND NOT recount", frozenset({"election"}), frozenset({"recount"})),
    Topic("volcanoes", "volcano", frozenset({"volcano"})),  # nobody publishes one: nothing expected
]


@dataclass(frozen=True)
class Reader:
    name: str
    topics: tuple[str, ...]
    hooks: tuple[str, ...] = ()  # webhook paths on the HTTP sink
    mail: tuple[str, ...] = ()  # recipients on the SMTP sink


READERS = [
    Reader("ana", ("floods", "fires"), hooks=("/ana",), mail=("ana@example.com",)),
    Reader("ben", ("floods", "strikes"), hooks=("/ben",)),
    Reader("cy", ("strikes", "votes"), hooks=("/cy/1", "/cy/2"), mail=("cy@example.com",)),
    Reader("dee", ("votes",), mail=("dee@example.com",)),
    Reader("eve", ("volcanoes",), hooks=("/eve",)),
]


def word(n: int) -> str:
    """The n-th made-up word. Same-event clustering knows a word by its first five letters
    (stories/terms.py), so those differ from word to word: two syllables and a consonant encode
    n; the shape (consonant, vowel, consonant, vowel, consonant) never starts a keyword."""
    if not 0 <= n < WORDS:
        raise ValueError(f"only {WORDS} made-up words: a soak that long needs a longer prefix")
    n, last = divmod(n, len(CONSONANTS))
    first, second = divmod(n, len(SYLLABLES))
    return SYLLABLES[first] + SYLLABLES[second] + CONSONANTS[last] + "ola"


def matching_topics(words: set[str]) -> set[str]:
    return {t.name for t in TOPICS if t.wants & words and not t.unless & words}


def destinations(keywords: set[str]) -> set[str]:
    """The sink addresses ("hook:/ana", "mail:ana@example.com") a story with these keywords must reach."""
    topics = matching_topics(keywords)
    found = set()
    for reader in READERS:
        if topics.intersection(reader.topics):
            found |= {f"hook:{h}" for h in reader.hooks} | {f"mail:{m}" for m in reader.mail}
    return found


@dataclass
class Published:
    title: str
    link: str
    feeds: list[str]
    at: float
    expected: set[str]


@dataclass
class Newsroom:
    """1,000 feeds on the feed server, and the stories put in them at random moments."""

    server: object  # tests.feedserver.FeedServer
    count: int
    seed: int = 0
    items: dict[str, list[Item]] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rand = random.Random(self.seed)
        self.order: list[str] = []
        for n in range(self.count):
            path = f"/f/{n:04d}.xml"
            base = self._item(BASE_WORDS + 4 * n, set(), f"https://news.example.com/base/{n}", f"base-{n}")
            self.items[path] = [base]
            self.server.set(path, rss(self.items[path]))

    def paths(self) -> list[str]:
        return list(self.items)

    def _item(self, first_word: int, keywords: set[str], link: str, guid: str) -> Item:
        made_up = [word(first_word + k) for k in range(4)]
        return Item(" ".join([*sorted(keywords), *made_up]).capitalize(), link, guid=guid)

    def next_feed(self) -> str:
        """Feeds in a shuffled round: each changes once before any changes twice."""
        if not self.order:
            self.order = self.rand.sample(list(self.items), len(self.items))
        return self.order.pop()

    def publish(self) -> Published:
        """One new story in one feed (and, one time in ten, a syndicated copy in another)."""
        keywords = set(self.rand.sample(KEYWORDS, self.rand.choice([0, 1, 1, 1, 2])))
        n = len(self.published)
        item = self._item(4 * n, keywords, f"https://news.example.com/s/{n}", f"s{n}")
        feeds = [self.next_feed()]
        if self.rand.random() < 0.1:
            feeds.append(self.next_feed())
        with self.lock:
            story = Published(item.title, item.link, feeds, time.time(), destinations(keywords))
            self.published.append(story)
            for k, path in enumerate(feeds):
                copy = Item(item.title, item.link, guid=f"{item.guid}-{k}")  # a copy has its own guid
                self.items[path] = [copy, *self.items[path]][:KEEP]
                self.server.set(path, rss(self.items[path]))
        return story
