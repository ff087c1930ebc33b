"""Realistic news feeds for benchmarks, generated from one seed and served from memory.

    feeds = FeedSet(count=2000, seed=7, base=time.time() // 60 * 60)
    feeds.body(12)          # bytes: RSS 2.0, 50 items, 30-60 KB, like a news site's feed
    feeds.change(12)        # a new story at the top (the oldest drops off); returns the new body

A feed is what a news site serves: guid, title, link (sometimes with tracking parameters),
description as escaped HTML or CDATA, pubDate, dc:creator, categories; English text with some
accents, curly quotes and entities, so `plain_text`, `normalise_title` and ftfy's hint see what they
see in the wild. The same seed and base time give the same bytes in every process; stories are
dated up to ~6 hours before the base time, every ~7 minutes, as a busy news feed is.

`python -m benchmarks.feedgen serve COUNT SEED BASE PORT HOST...` serves a FeedSet over HTTP/1.1
with keep-alive, ETag and 304 from a bare asyncio protocol, rendering a body only when one is first
asked for. A benchmark must never measure its feed server: aiohttp.web spends ~2.3x the CPU per 304
of this one, most of a core at the rate aiohttp's client asks for (docs/performance.md). Feed i is
at http://HOSTS[i % len(HOSTS)]:PORT/feeds/i.xml. Control: GET /_stats (JSON counts),
GET /_change?n=K&among=M&start=S&lead=W1,W2 (K of the M feeds from S on, wrapping, get a new
story; the first ones' titles led by W1, W2, ...), GET /_reset, and
GET /_keepalive?on=0|1 (0: every feed answer says Connection: close and closes).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from notifier.core.embedded import free_port

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


class _Server:
    """Counts and bodies shared by every connection."""

    def __init__(self, feeds: FeedSet) -> None:
        self.feeds = feeds
        self.counts = {"200": 0, "304": 0, "404": 0, "changed": 0}
        self.rng = random.Random(feeds.seed)
        self.etags = [FIRST_ETAG.encode()] * feeds.count
        self.closing = b""  # b"Connection: close\r\n" while every feed answer ends its connection

    def answer(self, path: bytes, if_none_match: bytes | None) -> bytes:
        i = int(path[7:].partition(b".")[0]) if path.startswith(b"/feeds/") else -1
        if 0 <= i < self.feeds.count:
            etag = self.etags[i]
            if if_none_match == etag:
                self.counts["304"] += 1
                return b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\n" + self.closing + b"\r\n"
            self.counts["200"] += 1
            body = self.feeds.body(i)
            return _response(b"200 OK", body, b"application/rss+xml; charset=utf-8", etag, self.closing)
        return self.control(path)

    def control(self, path: bytes) -> bytes:
        route, _, query = path.decode().partition("?")
        if route == "/_change":
            args = dict(pair.partition("=")[::2] for pair in query.split("&"))
            among, start = int(args.get("among", self.feeds.count)), int(args.get("start", 0))
            n, leads = min(int(args.get("n", 1)), among), [w for w in args.get("lead", "").split(",") if w]
            for k, i in enumerate(self.rng.sample(range(among), n)):
                i = (start + i) % self.feeds.count
                self.feeds.change(i, leads[k] if k < len(leads) else "")
                self.etags[i] = f'"v{self.feeds.versions[i]}"'.encode()
            self.counts["changed"] += n
        elif route == "/_reset":
            self.counts = dict.fromkeys(self.counts, 0)
        elif route == "/_keepalive":
            self.closing = b"" if query.endswith("=1") else b"Connection: close\r\n"
        elif route != "/_stats":
            self.counts["404"] += 1
            return _response(b"404 Not Found", b"not found\n", b"text/plain", b'"404"')
        return _response(b"200 OK", json.dumps(self.counts).encode(), b"application/json", b'"c"')


def _response(status: bytes, body: bytes, content_type: bytes, etag: bytes, more: bytes = b"") -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nETag: %s\r\nContent-Length: %d\r\n%s\r\n"
    return head % (status, content_type, etag, len(body), more) + body


class _Connection(asyncio.Protocol):
    """HTTP/1.1 GET with keep-alive; enough of the protocol for aiohttp and httpx clients."""

    def __init__(self, server: _Server) -> None:
        self.server, self.buffer, self.transport = server, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path, headers = lines[0].split(b" ")[1], dict(_header(line) for line in lines[1:])
            self.transport.write(self.server.answer(path, headers.get(b"if-none-match")))
            closing = self.server.closing and path.startswith(b"/feeds/")
            if closing or headers.get(b"connection", b"").lower() == b"close":
                self.transport.close()
                return


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


async def serve(count: int, seed: int, base: float, port: int, hosts: list[str]) -> None:
    feeds = FeedSet(count, seed, base)  # a body is rendered when first asked for: 304s need none
    server = _Server(feeds)
    loop = asyncio.get_running_loop()
    listening = await loop.create_server(lambda: _Connection(server), hosts, port, backlog=4096)
    print("ready", flush=True)
    async with listening:
        await listening.serve_forever()


class FeedServer:
    """`serve` in its own process, so it has its own core and GIL; a context manager.

    Feeds are spread over `hosts` loopback addresses (127.0.0.1, .2, ...): real feeds live on many
    sites, and the service's per-host limit (NOTIFIER_FETCH_PER_HOST) must not be what we measure."""

    def __init__(self, count: int, seed: int = 7, base: float = BASE_TIME, hosts: int = 50) -> None:
        self.count, self.seed, self.base = count, seed, base
        self.hosts = [f"127.0.0.{k}" for k in range(1, hosts + 1)]
        self.port, self.process = free_port(), None

    def __enter__(self) -> FeedServer:
        settings = (self.count, self.seed, self.base, self.port, *self.hosts)
        command = [sys.executable, "-m", "benchmarks.feedgen", "serve", *map(str, settings)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent)
        if self.process.stdout.readline().strip() != b"ready":
            self.__exit__()
            raise RuntimeError("the feed server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, i: int) -> str:
        return f"http://{self.hosts[i % len(self.hosts)]}:{self.port}/feeds/{i}.xml"

    def stats(self) -> dict[str, int]:
        return self._control("/_stats")

    def change(self, n: int, among: int | None = None, start: int = 0, lead=()) -> dict[str, int]:
        """Give `n` feeds chosen at random (seeded) among `among` from `start` on (wrapping) a new
        story at the top; the first `len(lead)` of them titled with those words first."""
        lead = ",".join(lead)
        return self._control(f"/_change?n={n}&among={among or self.count}&start={start}&lead={lead}")

    def reset(self) -> dict[str, int]:
        return self._control("/_reset")

    def keep_alive(self, on: bool) -> dict[str, int]:
        """Off: every feed answer closes its connection, as polls 60 s apart to separate sites find."""
        return self._control(f"/_keepalive?on={int(on)}")

    def _control(self, path: str) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return json.loads(response.read())


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    count, seed, base, port, *hosts = sys.argv[2:]
    asyncio.run(serve(int(count), int(seed), float(base), int(port), hosts))
