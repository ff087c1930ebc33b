"""WebSub (W3C Recommendation), the subscriber side: feeds that name a hub are pushed to us.

A poll finds a hub -> we ask it to push to our callback -> it verifies the intent with a GET ->
it POSTs new content signed with our secret -> the same parse and claim as a poll. Polling goes
on, slowly, as a safety net. State: the `websub:{feed_id}` hash; `websub:renew` orders the
subscriptions by when to ask their hub again (a lease running out, a request gone unanswered).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import redis

from notifier.core import netguard, socketguard
from notifier.core.due import claim_due
from notifier.core.redact import redact, redact_text
from notifier.feeds.parse import ParsedFeed
from notifier.models import Feed
from notifier.settings import Settings
from notifier.stories import store

log = logging.getLogger(__name__)

LEASE_SECONDS = 10 * 24 * 3600  # what we ask for, and the most of a granted lease we rely on
RETRY_SECONDS = 3600  # a request the hub refused or never verified is asked again after this
DENIED_SECONDS = 24 * 3600  # a hub that denied us is asked again after this
HUB_TIMEOUT = 5.0  # a poll waits for the hub: keep it short
RENEW = "websub:renew"

# Our own fixed patterns for RFC 8288 Link headers: <target>; param; rel="a b", <target2>...
_LINK = re.compile(r"<([^>]*)>((?:\s*;[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)


class WebSubError(Exception):
    """A hub could not be asked (refused address, unreachable, non-2xx answer); one line."""


@dataclass(frozen=True)
class Subscription:
    feed_id: str
    hub: str
    topic: str
    secret: str
    state: str  # requested | verified | denied | unsubscribing
    pending: str = ""  # the mode we asked for and the hub has not verified yet
    lease_until: float = 0.0
    renew_at: float = 0.0
    last_error: str = ""


def key(feed_id: str) -> str:
    return f"websub:{feed_id}"


def load(r: redis.Redis, feed_id: str) -> Subscription | None:
    raw = r.hgetall(key(feed_id))
    if not raw:
        return None
    floats = {name: float(raw.get(name) or 0) for name in ("lease_until", "renew_at")}
    texts = {name: raw.get(name, "") for name in ("hub", "topic", "secret", "state", "pending", "last_error")}
    return Subscription(feed_id=feed_id, **texts, **floats)


def save(r: redis.Redis, feed_id: str, **fields) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.hset(key(feed_id), mapping=fields)
    if "renew_at" in fields:
        pipe.zadd(RENEW, {feed_id: fields["renew_at"]})
    pipe.execute()


def forget(r: redis.Redis, feed_id: str) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.delete(key(feed_id))
    pipe.zrem(RENEW, feed_id)
    pipe.execute()


# --- discovery ---------------------------------------------------------------------------------


def header_links(value: str | None, base: str | None = None) -> list[tuple[str, set[str]]]:
    """(absolute target, rels) of each link in a Link header."""
    links = []
    for target, params in _LINK.findall(value or ""):
        rel = _REL.search(params)
        rels = set((rel.group(1) or rel.group(2) or "").lower().split()) if rel else set()
        links.append((urljoin(base or "", target.strip()), rels))
    return links


def discover_hub(
    parsed: ParsedFeed, link_header: str | None, feed_url: str | None = None
) -> tuple[str, str] | None:
    """(hub, topic): the Link header first, as WebSub §4 says, then the feed's own links.
    The topic is the rel="self" URL, else the URL we fetch the feed from."""
    links = header_links(link_header, feed_url)
    hub = next((url for url, rels in links if "hub" in rels), None) or parsed.hub
    header_self = next((url for url, rels in links if "self" in rels), None)
    topic = header_self or parsed.self_url or feed_url
    return (hub, topic) if hub and topic else None


def on_feed_parsed(
    r: redis.Redis, feed: Feed, parsed: ParsedFeed, link_header: str | None, settings: Settings
) -> None:
    """Called after each parse of a changed body: subscribe to a hub we have not asked yet,
    unsubscribe when the feed stops naming one. Costs one Redis read when nothing changed."""
    try:
        found = discover_hub(parsed, link_header, feed.url)
        if found:
            subscribe(r, feed, *found, settings)
        elif r.exists(key(feed.id)):
            unsubscribe(r, feed, settings)
    except Exception as exc:  # noqa: BLE001 - a hub's trouble must never cost us the poll
        log.warning("feed %s: websub: %s", feed.id, exc)


# --- asking the hub ----------------------------------------------------------------------------


def subscribe(
    r: redis.Redis, feed: Feed, hub: str, topic: str, settings: Settings, now: float | None = None
) -> bool:
    """Ask `hub` to push `topic` to us; False when a subscription to it needs nothing yet.

    State is written before the request: a hub may verify before it even answers us."""
    now = now or time.time()
    current = load(r, feed.id)
    same = current is not None and (current.hub, current.topic) == (hub, topic)
    if same and now < current.renew_at:
        return False
    # One secret per hub and topic: renewing keeps it, so pushes signed meanwhile still count.
    secret = current.secret if same else secrets.token_hex(32)
    state = "verified" if same and current.state == "verified" else "requested"
    fields = {"hub": hub, "topic": topic, "secret": secret, "state": state, "pending": "subscribe"}
    if not same:
        forget(r, feed.id)  # a new hub or topic: nothing of the old subscription carries over
    save(r, feed.id, **fields, renew_at=now + RETRY_SECONDS, last_error="")
    form = {"hub.secret": secret, "hub.lease_seconds": str(LEASE_SECONDS)}
    _ask(r, feed.id, hub, {"hub.mode": "subscribe", "hub.topic": topic, **form}, settings)
    log.info("feed %s: asked %s to push %s", feed.id, redact(hub), redact(topic))
    return True


def unsubscribe(r: redis.Redis, feed: Feed, settings: Settings, now: float | None = None) -> bool:
    """Ask the hub to stop. Pushes are ignored from now on, whatever the hub answers."""
    current = load(r, feed.id)
    if current is None or current.state == "unsubscribing":
        return False
    renew_at = (now or time.time()) + RETRY_SECONDS  # unconfirmed by then: the lease just lapses
    save(r, feed.id, state="unsubscribing", pending="unsubscribe", renew_at=renew_at)
    _ask(r, feed.id, current.hub, {"hub.mode": "unsubscribe", "hub.topic": current.topic}, settings)
    return True


def _ask(r: redis.Redis, feed_id: str, hub: str, form: dict, settings: Settings) -> None:
    """POST a request to the hub. The hub URL comes from a feed, i.e. from anyone: guard it."""
    form = {**form, "hub.callback": f"{settings.base_url}/websub/{feed_id}"}
    try:
        netguard.check_url(hub, settings.allow_private_hosts)
        # the connection itself is guarded too (no second lookup to rebind); no redirects (a 3xx
        # is an answer we refuse), no proxy from the environment (it would bypass the guard),
        # and the body is never read: only the status matters
        rule = netguard.policy_for(settings.allow_private_hosts)
        with (
            socketguard.connections_checked(rule),
            httpx.Client(timeout=HUB_TIMEOUT, follow_redirects=False, trust_env=False) as client,
        ):
            with client.stream("POST", hub, data=form) as response:
                if 200 <= response.status_code < 300:
                    return
                reason = f"hub {redact(hub)} answered {response.status_code}"
    except (netguard.GuardError, httpx.HTTPError) as exc:
        reason = f"hub {redact(hub)}: {redact_text(str(exc)) or type(exc).__name__}"
    r.hset(key(feed_id), "last_error", reason[:300])
    raise WebSubError(reason)


# --- renewal and the safety net ----------------------------------------------------------------


def claim_renewals(r: redis.Redis, now: float | None = None) -> list[str]:
    """Subscriptions due for asking again, claimed so two ticks never ask twice."""
    now = now or time.time()
    return claim_due(r, RENEW, now, now + RETRY_SECONDS)


def renew(r: redis.Redis, feed_ids: list[str], settings: Settings, now: float | None = None) -> list[str]:
    """Ask again for each claimed subscription; return the feed ids the hub was asked for."""
    asked = []
    for feed_id in feed_ids:
        current = load(r, feed_id)
        feed = store.get_feeds(r, [feed_id])
        if current is None or not feed or current.state == "unsubscribing":
            forget(r, feed_id)  # the feed is gone, or the hub never confirmed we left: let it lapse
            continue
        try:
            if subscribe(r, feed[0], current.hub, current.topic, settings, now):
                asked.append(feed_id)
        except Exception as exc:  # noqa: BLE001 - one hub's trouble must not stop the others
            log.warning("feed %s: websub renewal: %s", feed_id, exc)
    return asked


def safety_interval(settings: Settings) -> int:
    return max(settings.max_interval, 3600)


def states(r: redis.Redis, feed_ids: list[str]) -> dict[str, tuple]:
    """(state, lease_until) of many feeds' subscriptions in one round trip."""
    pipe = r.pipeline(transaction=False)
    for feed_id in feed_ids:
        pipe.hmget(key(feed_id), "state", "lease_until")
    return dict(zip(feed_ids, map(tuple, pipe.execute()), strict=True)) if feed_ids else {}


def safety_net(
    r: redis.Redis,
    feed: Feed,
    interval: float,
    reason: str,
    settings: Settings,
    now: float,
    known: tuple | None = None,
) -> tuple[float, str]:
    """A feed its hub pushes to is polled only now and then, in case a push goes missing.
    An interval the operator forced stays as it is."""
    if feed.forced:
        return interval, reason
    state, lease_until = known if known is not None else r.hmget(key(feed.id), "state", "lease_until")
    if state != "verified" or float(lease_until or 0) <= now or interval >= safety_interval(settings):
        return interval, reason
    return float(safety_interval(settings)), "websub: pushed by its hub, polled as a safety net"
