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
import functools
from collections.abc import Callable
from dataclasses import dataclass
from json import dumps
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from notifier.alerts.channels import httpwatch
from notifier.alerts.channels.base import DeliveryError, Message, failed, http_answer
from notifier.core import loop, netguard
from notifier.core.lanes import Lanes

CONNECTIONS = 50  # per destination and process: the aiohttp limit in LIMITS.md is reached by c=50
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


def start(messages: list[Message], allow_private: bool, policy, timeout: float, on_each: Callable) -> None:
    """Start sending on this process's loop and return at once; `on_each(i, error or None)` runs
    on the loop as message i's send ends. A destination's sends wait only for its own lane."""
    requests = [_prepared(message) for message in messages]
    loop.call_soon(_start_all, requests, allow_private, policy, timeout, on_each)


def _prepared(message: Message) -> Request | DeliveryError:
    try:
        return request_for(message)
    except Exception as exc:  # noqa: BLE001 - e.g. a user name outside latin-1
        return failed(f"cannot build the request for {message.where} ({type(exc).__name__})")


def _session(allow_private: bool, policy) -> tuple[aiohttp.ClientSession, Lanes, set]:
    """One session per address rule, kept for the life of the process (runs on the loop)."""
    return loop.kept(("webhook", allow_private, policy), lambda: _new_session(allow_private, policy))


def _new_session(allow_private: bool, policy) -> tuple[aiohttp.ClientSession, Lanes, set]:
    resolver = netguard.GuardedResolver(allow_private, policy=policy)
    # Caps per destination (host and port), none overall: a receiver that never answers holds its
    # own CONNECTIONS and nobody else's. Sockets stay bounded: dispatch hands a destination whose
    # sends have stalled no more work (`stalled`).
    connector = aiohttp.TCPConnector(resolver=resolver, limit=0, limit_per_host=CONNECTIONS, ttl_dns_cache=10)
    # No proxy from the environment (it would bypass the guard), no cookies between subscribers.
    session = aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),  # the caller's deadline covers each whole send
    )
    return session, Lanes(CONNECTIONS), set()


def destination(url: URL) -> str:
    return f"{url.host}:{url.port}"


def stalled(allow_private: bool, policy, where: str, seconds: float) -> bool:
    """Sends to `where` (host:port) are waiting here and none has ended for `seconds`."""
    held = loop.peek(("webhook", allow_private, policy))
    return bool(held) and held[1].stalled(where, seconds)


def _start_all(requests: list, allow_private: bool, policy, timeout: float, on_each: Callable) -> None:
    try:
        session, lanes, tasks = _session(allow_private, policy)
    except Exception as exc:  # noqa: BLE001 - e.g. no session could be made: every webhook failed
        for i in range(len(requests)):
            on_each(i, failed(f"the webhook sender failed ({type(exc).__name__})"))
        return
    check = policy or netguard.policy_for(allow_private)
    for i, request in enumerate(requests):
        task = asyncio.ensure_future(_one(session, lanes, request, check, timeout))
        tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(functools.partial(_ended, tasks, on_each, i))  # one callback, not two


def _ended(tasks: set, on_each: Callable, i: int, task: asyncio.Task) -> None:
    tasks.discard(task)
    on_each(i, _outcome(task))


async def _one(session, lanes: Lanes, request, policy, timeout: float) -> DeliveryError | None:
    if isinstance(request, DeliveryError):
        return request
    # the deadline starts once a connection slot is ours
    return await lanes.run(destination(request.url), lambda: _send_one(session, request, policy, timeout))


def _outcome(task: asyncio.Task) -> DeliveryError | None:
    if task.cancelled() or task.exception() is not None:
        return failed("the webhook send stopped unexpectedly")
    return task.result()


async def _send_one(session, request: Request, policy, timeout: float) -> DeliveryError | None:
    try:
        async with asyncio.timeout(timeout):
            status, retry_after = await _exchange(session, request, policy)
    except netguard.AddressRefused as exc:
        return failed(f"{request.where} {exc}", permanent=True)
    except netguard.GuardError as exc:
        return failed(f"{request.where} {exc}", permanent=isinstance(exc, netguard.UnsupportedScheme))
    except TimeoutError:
        return failed(f"timeout: {request.where} did not answer in {timeout:g} s", unavailable=True)
    except (aiohttp.ClientError, OSError) as exc:
        return failed(f"cannot talk to {request.where} ({type(exc).__name__})", unavailable=True)
    except Exception as exc:  # noqa: BLE001 - e.g. a Location that is no URL; never the whole batch
        return failed(f"cannot send to {request.where} ({type(exc).__name__})")
    return http_answer(status, retry_after, request.where, httpwatch.PERMANENT)


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
