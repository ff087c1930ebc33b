"""A reader's own settings, reached through their manage link: topics, quiet hours and digests,
channels (each sent a test message before it is saved), and leaving.

A reader is a subscriber like any other (fan-out, the ledger and unsubscribe links treat them
alike); readers who signed up themselves get a generated name, and the page never shows it.
Every change goes through notifier.alerts.subscribers' checks; a refusal changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, urlsplit

import redis

from notifier.alerts import links, subscribers
from notifier.alerts.channels import webpush
from notifier.core.redact import redact
from notifier.core.refusals import Refused
from notifier.models import Subscriber, find_url, url_hash
from notifier.settings import Settings
from notifier.stories import store

KINDS = {  # what a reader may add from the page, and the Apprise services each may be
    "ntfy": {"ntfy", "ntfys"},
    "slack": {"slack"},
    "discord": {"discord"},
    "telegram": {"tgram"},
    "matrix": {"matrix", "matrixs"},
}
KIND_OF_SCHEME = {
    **{s: kind for kind, schemes in KINDS.items() for s in schemes},
    "webpush": "browser",
    "webpushs": "browser",
    "mailto": "e-mail",
    "mailtos": "e-mail",
}
NTFY_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,64}")
SAMPLE = {
    "id": "test",
    "title": "Test alert: this channel works",
    "link": None,
    "summary": "You will get breaking-news alerts for your topics here.",
    "published": None,
}


def view(r: redis.Redis, sub: Subscriber, settings: Settings) -> dict:
    """What a reader sees of themselves: never their name or a URL's secrets."""
    channels = [
        {"id": url_hash(u), "kind": channel_kind(u), "target": redact(u), "active": u in sub.active_urls()}
        for u in sub.urls
    ]
    token = links.manage_token(r, sub.name)
    return {
        "topics": list(sub.topics),
        "quiet": sub.quiet,
        "tz": sub.tz,
        "digest": sub.digest,
        "channels": channels,
        "manage_url": f"{settings.base_url}/manage/{token}",
    }


def channel_kind(url: str) -> str:
    return KIND_OF_SCHEME.get(urlsplit(url).scheme.lower(), "other")


def set_topics(r: redis.Redis, name: str, topics: list[str]) -> Subscriber:
    sub = store.get_subscriber(r, name)
    topics = list(dict.fromkeys(topics))
    if not topics:
        raise Refused("choose at least one topic, or unsubscribe from everything")
    subscribers.refuse_unknown_topics(r, topics)
    updated = dataclasses.replace(sub, topics=tuple(topics))
    store.add_subscriber(r, updated)
    return updated


def set_schedule(r: redis.Redis, name: str, quiet: str | None, tz: str, digest: str | None) -> Subscriber:
    """Quiet hours (held alerts come as one digest when they end) and optional digests."""
    sub = store.get_subscriber(r, name)
    updated = dataclasses.replace(sub, quiet=quiet or None, tz=tz or "UTC", digest=digest or None)
    subscribers.check_schedule(updated)
    store.add_subscriber(r, updated)
    return updated


def channel_url(kind: str, value: str, settings: Settings) -> str:
    """The notification URL for what a reader typed: an ntfy topic, or a pasted service URL."""
    value = value.strip()
    if kind not in KINDS:
        raise Refused(f"unknown kind of channel: {kind!r} (one of {', '.join(KINDS)})")
    if kind == "ntfy" and NTFY_TOPIC.fullmatch(value):
        server = urlsplit(settings.ntfy_server)
        scheme = "ntfys" if server.scheme == "https" else "ntfy"
        return f"{scheme}://{server.netloc}/{value}"
    from notifier.alerts.channels.base import fresh_plugin

    plugin = fresh_plugin(value) if value and not value[0].isspace() else None
    service = getattr(plugin, "secure_protocol", None) if plugin else None
    service = service[0] if isinstance(service, tuple | list) else service
    if plugin is None or service not in KINDS[kind]:
        raise Refused(f"that is not a {kind} address we can send to")
    # a service's own https address becomes the Apprise URL that means the same destination
    return value if urlsplit(value).scheme.lower() in KINDS[kind] else plugin.url(privacy=False)


def add_channel(r: redis.Redis, settings: Settings, name: str, kind: str, value: str) -> Subscriber:
    """Check the address, send it a test message, and only if that arrived, keep it."""
    from notifier.alerts.render import render_for
    from notifier.alerts.sending import send_one

    url = channel_url(kind, value, settings)
    sub = store.get_subscriber(r, name)
    if url in sub.active_urls():
        raise Refused("you have that channel already")
    subscribers.check_target(url, settings)
    error = send_one(url, render_for(url, SAMPLE, [], settings), settings)
    if error is not None:
        raise Refused(f"the test message could not be sent, so the channel was not saved: {error}")
    return subscribers.update(r, settings, name, add_urls=[url])


def remove_channel(r: redis.Redis, settings: Settings, name: str, channel_id: str) -> Subscriber | None:
    """Drop one channel; dropping the last one is leaving (None)."""
    sub = store.get_subscriber(r, name)
    url = find_url(sub.urls, channel_id)
    if url is None:
        raise store.NotFound("no such channel")
    if len(sub.urls) == 1:
        leave(r, name)
        return None
    return subscribers.update(r, settings, name, remove_urls=[url])


def add_push(r: redis.Redis, settings: Settings, name: str, endpoint: str, p256dh: str, auth: str) -> str:
    """This browser, too, gets the reader's alerts by Web Push; its channel id."""
    try:
        url = webpush.subscription_url(endpoint, p256dh, auth)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    subscribers.check_target(url, settings)
    attach(r, name, url)
    return url_hash(url)


def attach(r: redis.Redis, name: str, url: str, topics: tuple[str, ...] | list[str] = ()) -> Subscriber:
    """Give a reader this address (replacing the one it stands for: a browser that subscribes
    again brings new keys) and these topics too; the address is enabled again."""
    sub, key = store.get_subscriber(r, name), address_key(url)
    urls = tuple(u for u in sub.urls if address_key(u) != key) + (url,)
    disabled = tuple(h for h in sub.disabled if h in {url_hash(u) for u in urls} and h != url_hash(url))
    merged = tuple(dict.fromkeys((*sub.topics, *topics)))
    updated = dataclasses.replace(sub, urls=urls, topics=merged, disabled=disabled)
    store.add_subscriber(r, updated)
    r.hset(ADDRESS_INDEX, key, name)
    return updated


def leave(r: redis.Redis, name: str) -> None:
    """Unsubscribe from everything: the subscriber and what pointed at them are gone."""
    sub = store.remove_subscriber(r, name)
    pipe = r.pipeline(transaction=False)
    for url in sub.urls:
        pipe.hdel(ADDRESS_INDEX, address_key(url))
    pipe.execute()


ADDRESS_INDEX = "readers:byaddress"  # one reader per e-mail address and per browser subscription


def address_key(url: str) -> str:
    """What identifies a reader's address across sign-ups: the mailbox, or the push endpoint."""
    parts = urlsplit(url)
    if parts.scheme.lower() in ("mailto", "mailtos"):
        return "mail:" + dict(parse_qsl(parts.query)).get("to", "").strip().lower()
    if webpush.supports(url):
        return "push:" + url_hash(webpush.subscription_of(url)["endpoint"])
    return "url:" + url_hash(url)
