"""Subscribers, checked before they are stored: who gets alerts, where, for which topics.

Every URL is checked before anything is stored: Apprise must understand it (or it is one of our
Web Push subscriptions), its host must pass the address guard, and our own `?rate=` override
must be a rate. A refusal (`Refused`, `Conflict`, `NotFound`) changes nothing. The command line,
the operator API and the readers' own pages all go through here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import redis

from notifier.core.redact import redact
from notifier.core.refusals import Conflict, Refused
from notifier.models import Subscriber, url_hash
from notifier.settings import Settings
from notifier.stories import quiet, store


def check_target(url: str, settings: Settings) -> None:
    """Refuse a URL nobody can send to, on a refused address, or with a `?rate=` that is no rate."""
    # Apprise, aiohttp and the crypto load only when a URL is checked: the CLI starts faster
    from notifier.alerts.channels import webpush
    from notifier.alerts.channels.base import DeliveryError
    from notifier.alerts.channels.via_apprise import check_notify_url
    from notifier.alerts.pacing import split_rate_override
    from notifier.core.netguard import GuardError

    try:
        split_rate_override(url)
    except ValueError as exc:
        raise Refused(f"{redact(url)}: {exc}") from None
    try:
        if webpush.supports(url):
            webpush.check(url, settings.allow_private_hosts)
        else:
            check_notify_url(url, settings.allow_private_hosts)
    except (GuardError, DeliveryError, ValueError) as exc:
        raise Refused(str(exc)) from None


def refuse_unknown_topics(r: redis.Redis, names: Iterable[str]) -> None:
    unknown = [t for t in names if not store.topic_exists(r, t)]
    if unknown:
        raise Refused(f"unknown topic: {', '.join(unknown)}")


def check_schedule(sub: Subscriber) -> None:
    """Quiet hours, time zone and digest must make sense together."""
    try:
        quiet.validate(sub.quiet, sub.tz, sub.digest, sub.digest_at)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def create(r: redis.Redis, settings: Settings, sub: Subscriber) -> Subscriber:
    """Store a new subscriber; an existing name is a Conflict (change it with `update`)."""
    if not sub.name.strip():
        raise Refused("a subscriber needs a name")
    if store.get_subscriber(r, sub.name, missing_ok=True):
        raise Conflict(f"subscriber {sub.name!r} exists already")
    if not sub.urls or not sub.topics:
        raise Refused("a subscriber needs at least one notification URL and one topic")
    refuse_unknown_topics(r, sub.topics)
    for url in sub.urls:
        check_target(url, settings)
    check_schedule(sub)
    unique = {"urls": tuple(dict.fromkeys(sub.urls)), "topics": tuple(dict.fromkeys(sub.topics))}
    sub = dataclasses.replace(sub, **unique)
    store.add_subscriber(r, sub)
    return sub


def update(
    r: redis.Redis,
    settings: Settings,
    name: str,
    add_urls: Iterable[str] = (),
    remove_urls: Iterable[str] = (),
    add_topics: Iterable[str] = (),
    remove_topics: Iterable[str] = (),
) -> Subscriber:
    """Add or remove notification URLs and topics in one change; a URL added again is re-enabled."""
    sub = store.get_subscriber(r, name)
    add_urls, add_topics = list(add_urls), list(add_topics)
    for url in add_urls:
        check_target(url, settings)
    refuse_unknown_topics(r, add_topics)
    urls, disabled = changed_urls(sub, add_urls, list(remove_urls))
    topics = changed_topics(sub, add_topics, list(remove_topics))
    updated = dataclasses.replace(sub, urls=urls, topics=topics, disabled=disabled)
    store.add_subscriber(r, updated)  # rewrites the topic indexes from the old record to the new
    return updated


def changed_urls(sub: Subscriber, add: list[str], remove: list[str]) -> tuple[tuple, tuple]:
    """The URLs and disabled URL hashes after the change; a URL added again is re-enabled."""
    urls, disabled = list(sub.urls), list(sub.disabled)
    for url in dict.fromkeys(remove):
        if url not in urls:
            raise Refused(f"{sub.name} has no notification URL {redact(url)}")
        urls.remove(url)
    for url in dict.fromkeys(add):
        if url in urls and url_hash(url) not in disabled:
            raise Conflict(f"{sub.name} already has {redact(url)}")
        if url not in urls:
            urls.append(url)
        disabled = [h for h in disabled if h != url_hash(url)]
    if not urls:
        raise Refused(f"{sub.name} would have no notification URL left; remove the subscriber instead")
    return tuple(urls), tuple(h for h in disabled if h in {url_hash(u) for u in urls})


def changed_topics(sub: Subscriber, add: list[str], remove: list[str]) -> tuple:
    topics = list(sub.topics)
    for name in dict.fromkeys(remove):
        if name not in topics:
            raise Refused(f"{sub.name} does not follow {name!r}")
        topics.remove(name)
    for name in dict.fromkeys(add):
        if name in topics:
            raise Conflict(f"{sub.name} follows {name!r} already")
        topics.append(name)
    if not topics:
        raise Refused(f"{sub.name} would follow no topic; remove the subscriber instead")
    return tuple(topics)
