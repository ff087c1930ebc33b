"""Telling people about trouble: a disabled feed reaches the operator and every subscriber whose
topics its stories matched, once, through their own channels and the same delivery ledger."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

import redis

from notifier.alerts import ledger
from notifier.core.redact import redact
from notifier.models import Feed
from notifier.settings import Settings
from notifier.stories import store

OPERATOR = "@operator"


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def feed_disabled(r: redis.Redis, feed: Feed, why: str, settings: Settings) -> list[str]:
    """Record one notice per recipient URL, due at once; the tick sends them."""
    notice_id = "n" + hashlib.sha256(f"{feed.id}\0{feed.first_error_at}".encode()).hexdigest()[:15]
    summary = (
        f"We stopped polling {feed.name} ({redact(feed.url)}): {why}. Last error: {feed.last_error}. "
        f"Re-arm it with: notifier feed enable {feed.id}"
    )
    story = {
        "id": notice_id,
        "feed": feed.id,
        "title": f"Feed disabled: {feed.name}",
        "link": None,
        "published": datetime.now(UTC).isoformat(),
        "summary": summary,
        "guid": None,
        "notice": True,
    }
    r.set(f"story:{notice_id}", json.dumps(story), ex=settings.story_ttl)
    rows = [(notice_id, OPERATOR, ledger.url_hash(u), redact(u)) for u in settings.operator_targets]
    names = store.subscribers_of(r, sorted(r.smembers(f"feed:{feed.id}:topics")))
    for sub in store.get_subscribers(r, sorted(names)):
        rows += [(notice_id, sub.name, ledger.url_hash(u), redact(u)) for u in sub.urls]
    return ledger.create(r, rows, ttl=settings.story_ttl, lease_until=time.time())


def urls_of(r: redis.Redis, subscriber: str, settings: Settings) -> tuple[str, ...]:
    """The notification URLs behind a ledger row's subscriber name (the operator is not stored)."""
    if subscriber == OPERATOR:
        return tuple(settings.operator_targets)
    sub = store.get_subscriber(r, subscriber, missing_ok=True)
    return sub.urls if sub else ()


def target_disabled(r: redis.Redis, sub, target: str, reason: str, settings: Settings) -> list[str]:
    """Tell a subscriber, through their URLs that still work, that one of them stopped working."""
    notice_id = "n" + hashlib.sha256(f"{sub.name}\0{target}\0{time.time():.0f}".encode()).hexdigest()[:15]
    story = {
        "id": notice_id,
        "feed": None,
        "title": f"Alerts to {target} stopped",
        "link": None,
        "published": datetime.now(UTC).isoformat(),
        "guid": None,
        "notice": True,
        "summary": f"Sending to {target} failed for good ({reason}), so we stopped using it. "
        f"Your other channels keep working; add it again once it is fixed.",
    }
    r.set(f"story:{notice_id}", json.dumps(story), ex=settings.story_ttl)
    rows = [(notice_id, sub.name, ledger.url_hash(u), redact(u)) for u in sub.active_urls()]
    return ledger.create(r, rows, ttl=settings.story_ttl, lease_until=time.time())
