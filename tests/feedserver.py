"""A real feed server on 127.0.0.1 for tests: serves bytes per path, answers conditional GETs,
and can be told to misbehave (slow, drip, gzip bomb, redirects, error statuses, huge bodies).

    with FeedServer() as server:
        server.set("/feed.xml", b"<rss>...</rss>")
        url = server.url("/feed.xml")                # http://127.0.0.1:PORT/feed.xml
        server.behave("/slow.xml", "slow", seconds=5)
        server.behave("/old.xml", "redirect", to="/feed.xml", status=301)
        server.requests[-1].headers.get("If-None-Match")

Behaviours (`behave(path, kind, **opts)`; they stay until `behave(path, None)`):
    slow         seconds=N       wait N s, then answer as usual
    drip         interval=1.0, full=False    send 200 headers, then one byte per interval until the
                                 client goes; full=True: the path's own body, its whole
                                 Content-Length declared, one byte per interval (a slow host)
    gzip_bomb    size=100 MiB    a small gzip body (Content-Encoding: gzip) inflating to `size` zeros
    redirect     to=URL_OR_PATH, status=302    chain several paths to build chains or loops
    status       code=429, headers={...}, body=b""   e.g. code=429, headers={"Retry-After": "120"}
    huge         size=N, declared=None   stream N bytes; `declared` is the Content-Length sent
                                         (None: no Content-Length, the body ends when we close)

What to serve is looked up by the request path, then by the path without its query string.
`requests` records every request in order as Request(method, path, headers, at); `max_in_flight`,
`max_connections` and `open_connections` tell how many were answered or open at once.

The local address is refused by the address guard unless private hosts are allowed: tests that
fetch from this server pass limits with allow_private=True (FetchLimits(allow_private=True)), or
set NOTIFIER_ALLOW_PRIVATE_HOSTS=true for code that reads the settings.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import select
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

__all__ = ["FeedServer", "Request"]

_CHUNK = 64 * 1024


class Request(NamedTuple):
    """One recorded request; `headers` is case-insensitive (`headers.get("if-none-match")`)."""

    method: str
    path: str
    headers: HTTPMessage
    at: float = 0.0  # time.time() when the request arrived


@dataclass
class _Content:
    body: bytes
    content_type: str
    headers: dict[str, str | None]
    etag: str
    last_modified: float


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    max_connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


@lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed without ever holding them all in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    parts = [packer.compress(zeros) for _ in range(size // len(zeros))]
    parts.append(packer.compress(bytes(size % len(zeros))))
    return b"".join(parts) + packer.flush()


class FeedServer:
    """ThreadingHTTPServer on 127.0.0.1, an ephemeral port, daemon threads; a context manager."""

    def __init__(self) -> None:
        self._contents: dict[str, _Content] = {}
        self._behaviours: dict[str, tuple[str, dict]] = {}
        self._stats = _Stats()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.requests: list[Request] = []
        self.arrived: list[tuple[float, str]] = []  # (time.time(), path) of each request
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.feeds = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._stats.lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:  # wake handlers blocked on idle keep-alive connections
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what to serve ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        headers: dict[str, str | None] | None = None,
    ) -> None:
        """Serve `body` at `path`. ETag is the quoted sha1 of the body; Last-Modified moves on
        whenever the body changes. `headers` add to or override the defaults (None removes one)."""
        previous = self._contents.get(path)
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        modified = time.time() // 1
        if previous is not None:
            modified = (
                previous.last_modified if previous.etag == etag else max(modified, previous.last_modified + 1)
            )
        self._contents[path] = _Content(body, content_type, dict(headers or {}), etag, modified)

    def behave(self, path: str, kind: str | None, **opts: object) -> None:
        """Make `path` misbehave (see the module docstring); kind None returns it to normal."""
        if kind is None:
            self._behaviours.pop(path, None)
        elif kind not in _BEHAVIOURS:
            raise ValueError(f"unknown behaviour {kind!r}; one of {sorted(_BEHAVIOURS)}")
        else:
            self._behaviours[path] = (kind, opts)

    # -- what happened ------------------------------------------------------------------------
    def requests_for(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    @property
    def max_connections(self) -> int:
        """The most TCP connections that were open at the same time."""
        return self._stats.max_connections

    @property
    def open_connections(self) -> int:
        """TCP connections open right now (a drip handler closes its own when the client goes)."""
        return self._stats.connections

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at the same time."""
        return self._stats.max_in_flight

    # -- used by the handler ------------------------------------------------------------------
    @staticmethod
    def _lookup(table: dict, path: str):
        """The entry for `path`, or for `path` without its query string."""
        return table.get(path) or table.get(path.partition("?")[0])

    def _track(self, sock: socket.socket, opened: bool) -> None:
        with self._stats.lock:
            stats = self._stats
            if opened:
                self._sockets.add(sock)
                stats.connections += 1
                stats.max_connections = max(stats.max_connections, stats.connections)
            else:
                self._sockets.discard(sock)
                stats.connections -= 1

    @contextlib.contextmanager
    def _answering(self):
        with self._stats.lock:
            self._stats.in_flight += 1
            self._stats.max_in_flight = max(self._stats.max_in_flight, self._stats.in_flight)
        try:
            yield
        finally:
            with self._stats.lock:
                self._stats.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a dripping handler must not hold up stop()
    feeds: FeedServer

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up on us (a fetch cut at its cap or deadline) is expected, not news."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so per-host connection limits are observable
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.feeds._track(self.connection, opened=True)

    def finish(self) -> None:
        self.server.feeds._track(self.connection, opened=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
        pass

    def do_GET(self) -> None:
        feeds = self.server.feeds
        feeds.arrived.append((time.time(), self.path))
        feeds.requests.append(Request(self.command, self.path, self.headers, time.time()))
        with feeds._answering(), contextlib.suppress(ConnectionError, TimeoutError):
            kind, opts = feeds._lookup(feeds._behaviours, self.path) or ("normal", {})
            _BEHAVIOURS[kind](self, **opts)

    do_HEAD = do_GET

    # -- answers ------------------------------------------------------------------------------
    def _normal(self) -> None:
        feeds = self.server.feeds
        content = feeds._lookup(feeds._contents, self.path)
        if content is None:
            self._plain(404, b"not found\n")
        elif self._not_modified(content):
            self._send(304, b"", self._validators(content))
        else:
            headers = {"Content-Type": content.content_type, **self._validators(content)}
            self._send(200, content.body, {**headers, **content.headers})

    def _slow(self, seconds: float = 5.0) -> None:
        if not self.server.feeds._stopping.wait(seconds):
            self._normal()

    def _drip(self, interval: float = 1.0, full: bool = False) -> None:
        content = self.server.feeds._lookup(self.server.feeds._contents, self.path)
        body = content.body if full and content else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if full:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = 0
        while not self.server.feeds._stopping.is_set() and not self._client_gone(interval):
            if full and sent >= len(body):
                return
            self.wfile.write(body[sent : sent + 1] if full else b" ")
            self.wfile.flush()
            sent += 1

    def _gzip_bomb(self, size: int = 100 * 1024 * 1024) -> None:
        headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
        self._send(200, gzip_bomb(size), headers)

    def _redirect(self, to: str, status: int = 302) -> None:
        self._send(status, b"", {"Location": to})

    def _status(self, code: int = 500, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self._send(code, body, {"Content-Type": "text/plain", **(headers or {})})

    def _huge(self, size: int = 64 * 1024 * 1024, declared: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if declared is not None:
            self.send_header("Content-Length", str(declared))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"x" * _CHUNK
        for start in range(0, size, _CHUNK):
            if self.server.feeds._stopping.is_set():
                return
            self.wfile.write(chunk[: min(_CHUNK, size - start)])

    # -- helpers ------------------------------------------------------------------------------
    def _validators(self, content: _Content) -> dict[str, str]:
        return {
            "ETag": content.etag,
            "Last-Modified": email.utils.formatdate(content.last_modified, usegmt=True),
        }

    def _not_modified(self, content: _Content) -> bool:
        tags = self.headers.get("If-None-Match")
        if tags is not None:
            wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
            return "*" in wanted or content.etag in wanted
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        with contextlib.suppress(TypeError, ValueError):
            return content.last_modified <= email.utils.parsedate_to_datetime(since).timestamp()
        return False

    def _plain(self, status: int, body: bytes) -> None:
        self._send(status, body, {"Content-Type": "text/plain"})

    def _send(self, status: int, body: bytes, headers: dict[str, str | None]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if value is not None:
                self.send_header(name, value)
        if status != 304 and "content-length" not in {name.lower() for name in headers}:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def _client_gone(self, wait: float) -> bool:
        """Wait up to `wait` s; True when the client has closed its side of the connection."""
        readable, _, _ = select.select([self.connection], [], [], wait)
        if not readable:
            return False
        try:
            gone = self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return gone or self.server.feeds._stopping.wait(wait)  # pipelined bytes: keep the pace


_BEHAVIOURS = {
    "normal": _Handler._normal,
    "slow": _Handler._slow,
    "drip": _Handler._drip,
    "gzip_bomb": _Handler._gzip_bomb,
    "redirect": _Handler._redirect,
    "status": _Handler._status,
    "huge": _Handler._huge,
}
