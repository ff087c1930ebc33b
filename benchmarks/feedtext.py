"""The text of the benchmarks' feeds: RSS 2.0 bodies generated from one seed (feedgen.py serves them).

feeds = FeedSet(count=2000, seed=7, base=time.time() // 60 * 60)
feeds.body(12)          # bytes: RSS 2.0, 50 items, 30-60 KB, like a news site's feed
feeds.change(12)        # a new story at the top (the oldest drops off); returns the new body
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from xml.sax.saxutils import escape

ITEMS = 50
FIRST_ETAG = '"v0"'  # every feed's ETag until its first change
SIZE = (30_000, 60_000)
BASE_TIME = datetime(2025, 6, 2, 9, 30, tzinfo=UTC).timestamp()  # the default: bytes independent of the day
_SECTIONS = "world politics business technology science health sport culture climate europe asia".split()
_NAME_WORDS = """Macron Scholz Lula Modi Albanese Ramaphosa Sánchez Meloni Zürich São_Paulo Düsseldorf Kraków
Montréal Reykjavík Nairobi Jakarta Osaka Buenos_Aires Seoul Lagos Ankara Brussels Geneva Toronto Manila"""
_NAMES = tuple(name.replace("_", " ") for name in _NAME_WORDS.split())
_WORDS = """government minister officials said report election vote parliament budget crisis talks
deal agreement protest police court ruling judge appeal inquiry investigation company market shares
profits workers strike union rates inflation economy growth bank central prices energy oil gas power
storm flood wildfire heat drought earthquake rescue hospital patients doctors vaccine study research
scientists climate emissions targets summit leaders trade tariffs exports border migrants refugees
army troops ceasefire attack missile drone security border region capital city council mayor residents
school students teachers university housing rents homes transport rail airline flights airport delays
water supply plan reform tax spending debt cuts opposition party coalition campaign poll voters
candidate president prime chancellor spokesperson statement warned announced confirmed denied
rejected approved delayed launched expected record highest lowest first since years months weeks
after before during amid despite over under against new latest major key senior former local
national international global public private digital online data privacy rules law bill act
technology artificial intelligence chips software platform users accounts network outage cyber
hackers breach football cup final league season coach players match win defeat title championship
festival film music artist museum exhibition book award prize""".split()
_DECOR = ("’s", "“quoted”", "café", "naïve", "&", "—", "déjà vu", "€5bn", "£300m", "$1.2tn", "3.4%")


_POOL = _WORDS + list(_NAMES)  # about one word in thirteen a name


def _sentence(rng: random.Random, words: int) -> str:
    picked = rng.choices(_POOL, k=words)
    if rng.random() < 0.3:
        picked.insert(rng.randrange(len(picked)), rng.choice(_DECOR))
    text = " ".join(picked)
    return text[0].upper() + text[1:] + "."


@cache
def _sentences(seed: int) -> tuple[str, ...]:
    """A bank of sentences that item bodies draw from: drawing is ~20x cheaper than writing them."""
    rng = random.Random(f"{seed}:bank")
    return tuple(_sentence(rng, rng.randint(8, 22)) for _ in range(20_000))


def _paragraphs(rng: random.Random, bank: tuple[str, ...], chars: int, link: str) -> str:
    paragraphs, size = [], 0
    while size < chars:
        text = " ".join(rng.choices(bank, k=rng.randint(1, 4)))
        more = f' <a href="{link}#more">Read more</a>' if rng.random() < 0.25 else ""
        paragraphs.append(f"<p>{text}{more}</p>")
        size += len(paragraphs[-1])
    return "".join(paragraphs)


class FeedSet:
    """`count` feeds, each a list of items; bodies rendered on demand and cached."""

    def __init__(self, count: int, seed: int = 7, base: float = BASE_TIME) -> None:
        self.count, self.seed, self.base = count, seed, datetime.fromtimestamp(base, UTC)
        self._items: dict[int, list[str]] = {}
        self._heads: dict[int, str] = {}
        self._bodies: dict[int, bytes] = {}
        self.versions = [0] * count

    def body(self, i: int) -> bytes:
        if i not in self._bodies:
            self._bodies[i] = self._render(i)
        return self._bodies[i]

    def change(self, i: int, lead: str = "") -> bytes:
        """Publish a new story at the top of feed i (its title led by `lead`, when given); the oldest
        falls off the end."""
        items = self._feed_items(i)
        self.versions[i] += 1
        items.insert(0, self._item(i, ITEMS + self.versions[i], 0, lead=lead))
        del items[ITEMS:]
        self._bodies.pop(i, None)
        return self.body(i)

    def forget_body(self, i: int) -> None:
        self._bodies.pop(i, None)

    def _rng(self, i: int, *more: int) -> random.Random:
        return random.Random(":".join(map(str, (self.seed, i, *more))))  # str seeds hash the same everywhere

    def _feed_items(self, i: int) -> list[str]:
        if i not in self._items:
            rng = self._rng(i)
            per_item = (rng.uniform(*SIZE) - 900) / ITEMS  # the channel header is ~900 bytes
            self._heads[i] = self._head(i, rng)
            self._items[i] = [self._item(i, n, -n, per_item) for n in range(1, ITEMS + 1)]  # newest first
        return self._items[i]

    def _head(self, i: int, rng: random.Random) -> str:
        site = f"news{i}.example.com"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>{escape(_sentence(rng, 4)[:-1])} | News {i}</title>"
            f"<link>https://{site}/</link><description>The latest stories from News {i}</description>"
            f'<atom:link href="https://{site}/rss.xml" rel="self" type="application/rss+xml"/>'
            f"<language>en-gb</language><ttl>5</ttl>"
            f"<lastBuildDate>{format_datetime(self.base)}</lastBuildDate>"
        )

    def _item(self, i: int, n: int, age: int, size: float | None = None, lead: str = "") -> str:
        """Item n of feed i; `age` in steps of 7 minutes (negative: older than the base time)."""
        rng = self._rng(i, n)
        size = size or (sum(SIZE) / 2 - 900) / ITEMS
        section, slug_words = rng.choice(_SECTIONS), rng.sample(_WORDS, 5)
        link = f"https://news{i}.example.com/{section}/{'-'.join(slug_words)}-{n}"
        if rng.random() < 0.3:
            link += "?utm_source=rss&utm_medium=feed"
        title = (f"{lead.title()} " if lead else "") + _sentence(rng, rng.randint(6, 14))[:-1]
        when = self.base + timedelta(minutes=7 * age, seconds=rng.randint(0, 400))
        html = _paragraphs(rng, _sentences(self.seed), max(60, int(size) - 620), link)
        description = f"<![CDATA[{html}]]>" if rng.random() < 0.4 else escape(html)
        creator = f"<dc:creator>{escape(rng.choice(_NAMES))} Desk</dc:creator>" if rng.random() < 0.6 else ""
        return (
            f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">urn:news{i}:{n}</guid><description>{description}</description>'
            f"<pubDate>{format_datetime(when)}</pubDate>{creator}"
            f"<category>{section.title()}</category></item>"
        )

    def _render(self, i: int) -> bytes:
        items = self._feed_items(i)
        return (self._heads[i] + "".join(items) + "</channel></rss>").encode()


# -- the server -------------------------------------------------------------------------------------
