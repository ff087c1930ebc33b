"""Safe HTTP for feeds: conditional GET, redirects followed by hand, caps on time and size,
and the address guard on every connection. One error type, `FetchError`, with a `kind`."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from notifier.core import netguard
from notifier.core.lanes import Lanes
from notifier.core.redact import redact  # scheme://host only: paths and queries can hold tokens
from notifier.core.retry_after import parse_retry_after
from notifier.settings import Settings

MAX_REDIRECTS = 5
_REDIRECTS = {301: True, 302: False, 303: False, 307: False, 308: True}  # status: permanent?
_PASSED_HEADERS = ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Expires", "Link")  # field order
_HEADERS = {
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "notifier/0.1 (+https://github.com/notifier)",
}


class FetchError(Exception):
    """Why a fetch failed. kind: dns, refused, scheme, connect, tls, timeout, http, too_large,
    redirects or decode. `permanent` (410, refused, scheme) means retrying will not help."""

    def __init__(self, kind: str, msg: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(msg)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.permanent = kind in ("refused", "scheme") or status == 410


_CAPS = ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "concurrency", "per_host")
_DEFAULT = {name: Settings.model_fields[f"fetch_{name}"].default for name in _CAPS}  # one source of defaults


@dataclass(frozen=True)
class FetchLimits:
    """What one fetch may cost; defaults are the settings'. `policy` (tests) overrides `allow_private`."""

    connect_timeout: float = _DEFAULT["connect_timeout"]
    read_timeout: float = _DEFAULT["read_timeout"]
    total_timeout: float = _DEFAULT["total_timeout"]
    max_bytes: int = _DEFAULT["max_bytes"]
    concurrency: int = _DEFAULT["concurrency"]
    per_host: int = _DEFAULT["per_host"]
    allow_private: bool = False
    policy: netguard.AddressPolicy | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        caps = {name: getattr(settings, f"fetch_{name}") for name in _CAPS}
        return cls(**caps, allow_private=settings.allow_private_hosts)

    @property
    def address_policy(self) -> netguard.AddressPolicy:
        return self.policy or netguard.policy_for(self.allow_private)


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int  # 200 (or another 2xx) with a body; 304 without
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    cache_control: str | None
    expires: str | None
    link_header: str | None  # raw Link header, for WebSub hub discovery
    permanent_redirect: str | None  # the final URL, when every hop to it was 301/308
    elapsed: float


def make_session(limits: FetchLimits) -> aiohttp.ClientSession:
    """Every connection goes through the address guard. Make it in a running loop; `async with` it."""
    resolver = netguard.GuardedResolver(limits.allow_private, policy=limits.policy)
    # No overall cap here: the caller's lanes keep `concurrency` fetches busy at once and let a
    # fetch held up by its host stop counting; a cap in the connector would queue behind those.
    connector = aiohttp.TCPConnector(
        resolver=resolver, limit=0, limit_per_host=limits.per_host, ttl_dns_cache=10
    )
    timeout = aiohttp.ClientTimeout(sock_connect=limits.connect_timeout, sock_read=limits.read_timeout)
    # A short DNS cache is safe: the resolver refuses internal answers before they are cached.
    # Bodies are decompressed (auto_decompress, the default) before _read_capped counts them. No proxy
    # from the environment: it would bypass the guard. No cookies: one feed's must not reach another.
    jar = aiohttp.DummyCookieJar()
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=_HEADERS, trust_env=False, cookie_jar=jar
    )


async def fetch_one(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits,
) -> FetchResult:
    """Conditional GET of `url`; raises FetchError. The total deadline covers every hop and the body."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limits.total_timeout):
            headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
            return await _follow(session, url, headers, limits, started)
    except TimeoutError:
        message = f"timeout: {redact(url)} took longer than {limits.total_timeout:g} s"
        raise FetchError("timeout", message) from None


async def _follow(session, url: str, headers: dict, limits: FetchLimits, started: float) -> FetchResult:
    current, hops, permanent = _parse(url), [], True
    while True:
        try:
            netguard.check_hop(str(current), limits.address_policy)  # IP literals skip the resolver
            async with session.get(current, headers=headers, allow_redirects=False) as response:
                if response.status not in _REDIRECTS:
                    moved = str(current) if hops and permanent else None
                    return await _result(response, url, moved, limits, started)
                permanent = permanent and _REDIRECTS[response.status]
                hops.append(current)
                current = _next_hop(response, hops)
        except (aiohttp.ClientError, OSError, netguard.GuardError) as exc:
            raise _map_error(exc, current) from None


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except (ValueError, TypeError):
        raise FetchError("scheme", "invalid URL: cannot be parsed") from None


def _next_hop(response: aiohttp.ClientResponse, hops: list[URL]) -> URL:
    location, where = response.headers.get("Location"), redact(str(hops[-1]))
    if not location:
        raise FetchError("redirects", f"redirects: {response.status} without Location from {where}")
    target = hops[-1].join(_parse(location)).with_fragment(None)
    if target in hops:
        raise FetchError("redirects", f"redirects: a loop at {redact(str(target))}")
    if len(hops) > MAX_REDIRECTS:
        raise FetchError("redirects", f"redirects: more than {MAX_REDIRECTS} from {redact(str(hops[0]))}")
    return target


async def _result(response, url: str, moved: str | None, limits: FetchLimits, started: float) -> FetchResult:
    if response.status == 304:
        body = None
    elif 200 <= response.status < 300:
        body = await _read_capped(response, limits.max_bytes)
    else:
        status = response.status
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
        message = f"http {status} from {redact(str(response.url))}"
        raise FetchError("http", message, status=status, retry_after=retry_after)
    passed, elapsed = map(_joined(response.headers), _PASSED_HEADERS), time.monotonic() - started
    return FetchResult(url, str(response.url), response.status, body, *passed, moved, elapsed)


def _joined(headers):
    """A header sent several times (Link: rel=hub, Link: rel=self) as one comma-joined value."""
    return lambda name: ", ".join(headers.getall(name, [])) or None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, decompressed, cut as soon as it passes `max_bytes` (a gzip bomb included)."""
    too_large = FetchError("too_large", f"too_large: over {max_bytes} bytes from {redact(str(response.url))}")
    if response.content_length is not None and response.content_length > max_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


_ERRORS = (  # first match wins: DNS, TLS and timeouts are connection errors too
    (netguard.AddressRefused, "refused", ""),  # the guard's own message says it all
    (netguard.GuardError, "scheme", ""),
    (aiohttp.ClientConnectorDNSError, "dns", "cannot resolve {host}"),
    (aiohttp.ClientSSLError | ssl.SSLError, "tls", "TLS failed with {where}"),
    (aiohttp.ConnectionTimeoutError, "timeout", "no connection to {where} in time"),
    (TimeoutError, "timeout", "{where} stopped sending"),  # sock_read; the total deadline is fetch_one's
    (aiohttp.ClientPayloadError | aiohttp.ClientResponseError, "decode", "malformed response from {where}"),
    (Exception, "connect", "cannot talk to {where}"),
)


def _map_error(exc: Exception, url: URL) -> FetchError:
    kind, template = next((kind, text) for types, kind, text in _ERRORS if isinstance(exc, types))
    if not template:
        return FetchError(kind, str(exc))
    detail = template.format(host=url.host, where=redact(str(url)))
    return FetchError(kind, f"{kind}: {detail} ({type(exc).__name__})")


async def fetch_many(requests: list[FetchRequest], limits: FetchLimits) -> list[FetchResult | FetchError]:
    """Fetch all over a session of their own (CLI, tests; the service uses `feeds.poller`); results in
    order, errors returned. A fetch's deadline starts once it has a slot (overall and per host)."""
    lanes = Lanes(limits.per_host, limits.concurrency)
    async with make_session(limits) as session:

        async def one(request: FetchRequest) -> FetchResult | FetchError:
            conditions = {"etag": request.etag, "last_modified": request.last_modified}
            try:
                return await lanes.run(
                    host_of(request.url), lambda: fetch_one(session, request.url, **conditions, limits=limits)
                )
            except FetchError as exc:
                return exc

        return list(await asyncio.gather(*(one(request) for request in requests)))


def host_of(url: str) -> str:  # host and port: what a per-host share of connections counts by
    return url.partition("://")[2].partition("/")[0].lower()


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None, limits=None) -> FetchResult:
    """One fetch from the CLI; raises FetchError. Ctrl-C stops it, whatever aiohttp calls it."""
    request = FetchRequest(url, etag, last_modified)
    with asyncio.Runner() as runner:
        try:
            [result] = runner.run(fetch_many([request], limits or FetchLimits()))
        finally:
            if getattr(runner, "_interrupt_count", 0):
                raise KeyboardInterrupt  # whatever the cancel turned into on its way out
    if isinstance(result, FetchError):
        raise result
    return result
