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
story; the first ones' titles led by W1, W2, ...; `ids=I,J` names the feeds instead), GET /_reset, and
GET /_keepalive?on=0|1 (0: every feed answer says Connection: close and closes).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import urllib.request

from benchmarks.child import ChildServer
from benchmarks.feedtext import BASE_TIME, FIRST_ETAG, FeedSet
from notifier.core.embedded import free_port

__all__ = ["BASE_TIME", "FIRST_ETAG", "FeedServer", "FeedSet"]


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
            picked = [int(i) for i in args.get("ids", "").split(",") if i]
            picked = picked or [(start + i) % self.feeds.count for i in self.rng.sample(range(among), n)]
            for k, i in enumerate(picked):
                self.feeds.change(i, leads[k] if k < len(leads) else "")
                self.etags[i] = f'"v{self.feeds.versions[i]}"'.encode()
            self.counts["changed"] += len(picked)
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


class FeedServer(ChildServer):
    """`serve` in its own process, so it has its own core and GIL; a context manager.

    Feeds are spread over `hosts` loopback addresses (127.0.0.1, .2, ...): real feeds live on many
    sites, and the service's per-host limit (NOTIFIER_FETCH_PER_HOST) must not be what we measure."""

    def __init__(self, count: int, seed: int = 7, base: float = BASE_TIME, hosts: int = 50) -> None:
        self.count, self.seed, self.base = count, seed, base
        self.hosts = [f"127.0.0.{k}" for k in range(1, hosts + 1)]
        self.port = free_port()

    what = "the feed server"

    def argv(self) -> list[str]:
        settings = (self.count, self.seed, self.base, self.port, *self.hosts)
        return ["benchmarks.feedgen", "serve", *map(str, settings)]

    def url(self, i: int) -> str:
        return f"http://{self.hosts[i % len(self.hosts)]}:{self.port}/feeds/{i}.xml"

    def stats(self) -> dict[str, int]:
        return self._control("/_stats")

    def change(self, n: int, among: int | None = None, start: int = 0, lead=()) -> dict[str, int]:
        """Give `n` feeds chosen at random (seeded) among `among` from `start` on (wrapping) a new
        story at the top; the first `len(lead)` of them titled with those words first."""
        lead = ",".join(lead)
        return self._control(f"/_change?n={n}&among={among or self.count}&start={start}&lead={lead}")

    def change_these(self, ids: list[int], lead=()) -> dict[str, int]:
        """Give feeds `ids` a new story at the top; the first `len(lead)` titled with those words first."""
        return self._control(f"/_change?ids={','.join(map(str, ids))}&lead={','.join(lead)}")

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
