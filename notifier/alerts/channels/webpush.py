"""Web Push: alerts to a reader's browser, encrypted for it (RFC 8291) and signed by us (RFC 8292).

A browser's PushSubscription is kept as one more notification URL of its subscriber, so fan-out,
the ledger, pacing, retries and unsubscribe links treat it like any other:
`webpushs://push.example/PATH?p256dh=KEY&auth=SECRET` posts to `https://push.example/PATH`
(`webpush://` to plain http, which only a local push service uses). pywebpush encrypts the
payload (aes128gcm through http-ece, the reference implementation) and py-vapid signs the
claims; we post ourselves, on the process's loop with a session whose resolver is the address
guard, so the push endpoint is checked on every connection like every other send. A 404 or 410
means the browser dropped the subscription: a permanent DeliveryError, and the URL is disabled.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from notifier.alerts.channels.base import DeliveryError, failed, http_answer
from notifier.core import loop, netguard, vapid
from notifier.core.db import shared_client
from notifier.settings import Settings

SCHEMES = {"webpush": "http", "webpushs": "https"}
PERMANENT = frozenset({400, 401, 403, 404, 410})  # malformed, our key refused, subscription gone
TIMEOUT = 15.0
CLAIM_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h


def supports(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


def subscription_url(endpoint: str, p256dh: str, auth: str) -> str:
    """The notification URL of a browser's PushSubscription; ValueError for one that is not."""
    parts = urlsplit(endpoint.strip())
    scheme = {v: k for k, v in SCHEMES.items()}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname or parts.fragment:
        raise ValueError("a push endpoint is an http(s) URL with a host")
    if len(_b64(p256dh, "p256dh")) != 65 or len(_b64(auth, "auth")) != 16:
        raise ValueError("p256dh must be a 65-byte P-256 key and auth a 16-byte secret")
    query = urlencode([*parse_qsl(parts.query), ("p256dh", p256dh), ("auth", auth)])
    return f"{scheme}://{parts.netloc}{parts.path or '/'}?{query}"


def subscription_of(url: str) -> dict:
    """The PushSubscription behind a notification URL, as the browser gave it."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    keys = {"p256dh": params.pop("p256dh", ""), "auth": params.pop("auth", "")}
    query = f"?{urlencode(params)}" if params else ""
    endpoint = f"{SCHEMES[parts.scheme.lower()]}://{parts.netloc}{parts.path}{query}"
    return {"endpoint": endpoint, "keys": keys}


def check(url: str, allow_private: bool) -> None:
    """The subscription is well formed and its push service is on an address we may reach."""
    sub = subscription_of(url)
    subscription_url(sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"])
    netguard.check_url(sub["endpoint"], allow_private)


def send(url: str, payload: str, settings: Settings) -> DeliveryError | None:
    """Encrypt `payload` for this subscription, sign, and post it to its push service."""
    from pywebpush import WebPusher  # its import pulls in requests and http-ece: only when sending

    sub = subscription_of(url)
    where = f"{urlsplit(sub['endpoint']).scheme}://{urlsplit(sub['endpoint']).hostname}"
    try:
        body = WebPusher(sub).encode(payload.encode(), "aes128gcm")["body"]
        headers = {"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream"}
        headers |= {"TTL": str(settings.delivery_max_age), **_vapid_headers(sub["endpoint"], settings)}
    except Exception as exc:  # noqa: BLE001 - a bad key in a stored subscription: it can never work
        return failed(f"cannot encrypt for {where} ({type(exc).__name__})", permanent=True)
    try:
        status, retry_after = loop.run(_post(sub["endpoint"], headers, body, settings.allow_private_hosts))
    except netguard.GuardError as exc:
        return failed(f"{where} {exc}", permanent=isinstance(exc, netguard.AddressRefused))
    except TimeoutError:
        return failed(f"timeout: {where} did not answer in {TIMEOUT:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return failed(f"cannot talk to {where} ({type(exc).__name__})")
    return http_answer(status, retry_after, where, PERMANENT)


def _vapid_headers(endpoint: str, settings: Settings) -> dict:
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    claims = {"aud": audience, "sub": vapid.contact(settings), "exp": int(time.time()) + CLAIM_LIFETIME}
    return vapid.signer(shared_client(), settings).sign(claims)


async def _post(endpoint: str, headers: dict, body: bytes, allow_private: bool) -> tuple[int, str | None]:
    session = loop.kept(("webpush", allow_private), lambda: _new_session(allow_private))
    netguard.check_hop(endpoint, netguard.policy_for(allow_private))  # IP literals skip the resolver
    async with asyncio.timeout(TIMEOUT):
        async with session.post(endpoint, data=body, headers=headers, allow_redirects=False) as response:
            await response.read()
            return response.status, response.headers.get("Retry-After")


def _new_session(allow_private: bool) -> aiohttp.ClientSession:
    # no proxy from the environment (it would bypass the guard), no cookies between subscribers
    connector = aiohttp.TCPConnector(resolver=netguard.GuardedResolver(allow_private), limit=50)
    return aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar())


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64url") from None
