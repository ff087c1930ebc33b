"""The nouns of the domain: small frozen dataclasses, no behaviour beyond (de)serialising."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime


def url_hash(url: str) -> str:
    """A notification URL's identity in the ledger: the URL itself is a secret and never stored there."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def find_url(urls, wanted_hash: str) -> str | None:
    """The URL among `urls` whose url_hash is `wanted_hash`: how a ledger row finds its URL again."""
    return next((u for u in urls if url_hash(u) == wanted_hash), None)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True)
class Story:
    """One item of one feed, made plain: what every later step works with."""

    id: str
    feed_id: str
    title: str
    link: str | None
    published: datetime | None
    summary: str
    guid: str | None = None
    link_key: str | None = None  # normalised link, the cross-feed identity
    title_key: str | None = None  # normalised title; None when too short to identify a story

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "feed": self.feed_id,
            "title": self.title,
            "link": self.link,
            "published": iso(self.published),
            "summary": self.summary,
            "guid": self.guid,
        }


@dataclass(frozen=True)
class Feed:
    id: str
    url: str
    name: str
    interval: int
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    baseline_done: bool = False
    last_success: float | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    errors: int = 0
    first_error_at: float | None = None
    next_poll: float | None = None
    interval_reason: str = "default"
    forced: bool = False  # the operator chose the interval: neither adaptation nor caching moves it
    adaptive_interval: float | None = None  # from observed publishing, refreshed when content changes
    watched_since: float | None = None  # the first successful poll
    item_digests: str | None = None  # of the items of the last body read cleanly (feeds.items)

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Topic:
    name: str
    expr: str
    urgent: bool = False
    min_sources: int = 1  # alert only once this many outlets carry the event (trading speed for confidence)
    urgent_sources: int = 0  # urgent once this many outlets carried the event within 10 min (0: never)


@dataclass(frozen=True)
class Subscriber:
    name: str
    urls: tuple[str, ...]
    topics: tuple[str, ...]
    quiet: str | None = None  # "22:00-07:00" in their own time zone
    tz: str = "UTC"
    digest: str | None = None  # "hourly" | "daily"
    digest_at: str = "08:00"  # when a daily digest goes out, local time
    urgent_passes: bool = False  # urgent topics break through quiet hours and digests
    disabled: tuple[str, ...] = ()  # url hashes that failed permanently
    updates: bool = False  # hear substantive updates of an event already alerted, threaded where possible

    def active_urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.urls if url_hash(u) not in self.disabled)


@dataclass(frozen=True)
class Delivery:
    """One alert: a story to one notification URL of one subscriber, and where it stands."""

    id: str
    story: str
    subscriber: str
    url_hash: str
    target: str  # redacted: scheme and host only
    state: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    created: float = 0.0
    updated: float = 0.0
    next_at: float | None = None
    resent: int = 0  # times sent again after a worker died mid-send
    note: str | None = None
    first_try: float | None = None  # when its first send began: the age NOTIFIER_DELIVERY_MAX_AGE counts
    outages: int = 0  # tries that found the provider down: not counted against the attempts bound
    digest: str | None = None  # the identity of the digest it was last sent in, if any
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        return data
