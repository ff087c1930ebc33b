"""json:// webhooks: Apprise's request, sent over one pooled aiohttp session per process.

The request is the one `apprise/plugins/custom_json.py` builds with `requests`: its method,
URL, `-param` query, headers, basic auth and payload (with `:key=value` remaps), so a receiver
cannot tell the two apart except by transport headers (Accept-Encoding, Connection). Every
connection goes through the address guard (`GuardedResolver` for names, `check_hop` for IP
literals and every redirect hop, which we follow by hand, as fetch.py does).
"""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import Future
from dataclasses import dataclass
from json import dumps
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from notifier.alerts.channels import httpwatch
from notifier.alerts.channels.base import DeliveryError, Message, failed
from notifier.core import loop, netguard
from notifier.core.retry_after import parse_retry_after

CONNECTIONS = 50  # per process: the aiohttp limit measured in LIMITS.md is reached by c=50
MAX_REDIRECTS = 3
MAX_BODY = 64 * 1024  # a webhook's answer is read so its connection can be reused; a bigger one is not
_STATUS_MOVED = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Request:
    method: str
    url: URL
    headers: CIMultiDict
    data: bytes | None
    verify: bool
    follow: bool
    where: str


def supports(plugin) -> bool:
    # requests would send the password "None" for `json://user@host`: leave that oddity to Apprise
    return bool(plugin.host) and not (plugin.user and plugin.password is None)


def request_for(message: Message) -> Request:
    plugin = message.plugin
    payload = {"version": plugin.json_version, "title": message.title, "message": message.body}
    payload |= {"attachments": [], "type": "info"}
    for key, value in plugin.payload_extras.items():  # Apprise's rule, step by step: rename, drop or add
        if key not in payload:
            payload[key] = value
            continue
        if value:
            payload[value] = payload[key]
        del payload[key]  # so `:title=title` drops the title, as in Apprise
    headers = CIMultiDict({"User-Agent": plugin.app_id, "Content-Type": "application/json"})
    for name, value in plugin.headers.items():
        headers[name] = value  # one value per name, the URL's last, as requests merges them
    # the delivery id, so a resend after a crash is recognisable (alerts/identity.py)
    if key := message.headers.get("Idempotency-Key"):
        headers["Idempotency-Key"] = payload["delivery_id"] = key
    if plugin.user:
        headers["Authorization"] = _basic(plugin.user, plugin.password)
    scheme = "https" if plugin.secure else "http"
    port = f":{plugin.port}" if isinstance(plugin.port, int) else ""
    query = f"?{urlencode(plugin.params, doseq=True)}" if plugin.params else ""
    url = URL(f"{scheme}://{plugin.host}{port}{plugin.fullpath}{query}")
    data = dumps(payload).encode()
    return Request(
        plugin.method, url, headers, data, plugin.verify_certificate, plugin.redirects, message.where
    )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin1")).decode()  # as requests


def submit(messages: list[Message], allow_private: bool, policy, timeout: float) -> Future:
    """Start sending on this process's loop; the future gives one result per message, in order."""
    requests = [_prepared(message) for message in messages]
    return loop.submit(_send_all(requests, allow_private, policy, timeout))


def _prepared(message: Message) -> Request | DeliveryError:
    try:
        return request_for(message)
    except Exception as exc:  # noqa: BLE001 - e.g. a user name outside latin-1
        return failed(f"cannot build the request for {message.where} ({type(exc).__name__})")


def _session(allow_private: bool, policy) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
    """One session per address rule, kept for the life of the process (runs on the loop)."""
    return loop.kept(("webhook", allow_private, policy), lambda: _new_session(allow_private, policy))


def _new_session(allow_private: bool, policy) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
    resolver = netguard.GuardedResolver(allow_private, policy=policy)
    connector = aiohttp.TCPConnector(resolver=resolver, limit=CONNECTIONS, ttl_dns_cache=10)
    # No proxy from the environment (it would bypass the guard), no cookies between subscribers.
    session = aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),  # the caller's deadline covers each whole send
    )
    return session, asyncio.Semaphore(CONNECTIONS)


async def _send_all(requests: list, allow_private: bool, policy, timeout: float) -> list:
    session, slots = _session(allow_private, policy)
    check = policy or netguard.policy_for(allow_private)

    async def one(request: Request | DeliveryError) -> DeliveryError | None:
        if isinstance(request, DeliveryError):
            return request
        async with slots:  # the deadline starts once a connection slot is ours
            return await _send_one(session, request, check, timeout)

    return list(await asyncio.gather(*(one(request) for request in requests)))


async def _send_one(session, request: Request, policy, timeout: float) -> DeliveryError | None:
    try:
        async with asyncio.timeout(timeout):
            status, retry_after = await _exchange(session, request, policy)
    except netguard.AddressRefused as exc:
        return failed(f"{request.where} {exc}", permanent=True)
    except netguard.GuardError as exc:
        return failed(f"{request.where} {exc}", permanent=isinstance(exc, netguard.UnsupportedScheme))
    except TimeoutError:
        return failed(f"timeout: {request.where} did not answer in {timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return failed(f"cannot talk to {request.where} ({type(exc).__name__})")
    except Exception as exc:  # noqa: BLE001 - e.g. a Location that is no URL; never the whole batch
        return failed(f"cannot send to {request.where} ({type(exc).__name__})")
    if 200 <= status < 300:
        return None
    wait = parse_retry_after(retry_after) if retry_after and status in (429, 503) else None
    return failed(
        f"http {status} from {request.where}", permanent=status in httpwatch.PERMANENT, retry_after=wait
    )


async def _exchange(session, request: Request, policy) -> tuple[int, str | None]:
    """(status, Retry-After) of the last answer, following redirects as requests does, each hop checked."""
    method, url, headers, data = request.method, request.url, request.headers, request.data
    for _ in range(MAX_REDIRECTS + 1):
        netguard.check_hop(str(url), policy)  # IP literals never reach the resolver
        ssl = None if request.verify else False
        async with session.request(
            method, url, headers=headers, data=data, allow_redirects=False, ssl=ssl
        ) as response:
            await _drain(response)
            status, location = response.status, response.headers.get("Location")
            if status not in _STATUS_MOVED or not request.follow or not location:
                return status, response.headers.get("Retry-After")
        target = url.join(URL(location)).with_fragment(None)
        method, headers, data = _redirected(status, method, headers, data, url, target)
        url = target
    return status, None  # still moving after MAX_REDIRECTS: a failure like any other 3xx


def _redirected(status: int, method: str, headers: CIMultiDict, data, old: URL, new: URL):
    """requests' rules: 301 turns POST into GET, 302/303 turn all but HEAD into GET, and only
    307/308 keep the body; credentials never follow to another origin."""
    headers = headers.copy()
    if (status == 301 and method == "POST") or (status in (302, 303) and method != "HEAD"):
        method = "GET"
    if status not in (307, 308):
        data = None
        headers.popall("Content-Type", None)
    if old.origin() != new.origin():
        headers.popall("Authorization", None)
    return method, headers, data


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read a small answer so the connection can carry the next request; a big one just closes."""
    if response.content_length is not None and response.content_length > MAX_BODY:
        return
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            return
