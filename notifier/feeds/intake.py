"""Taking a feed's stories in: the same parse and claim for a polled body and a pushed one."""

from __future__ import annotations

import logging
import time

import redis

from notifier.feeds.parse import parse_feed
from notifier.settings import Settings
from notifier.stories import claim, cluster, store

log = logging.getLogger(__name__)


def absorb_body(
    r: redis.Redis,
    feed,
    body: bytes,
    content_type: str | None,
    settings: Settings,
    pending_at: float | None = None,
) -> list[str]:
    """A body pushed to us (WebSub): same parse and claim as a poll; the tick fans the new stories
    out from `pending_at` (now by default) unless someone has fanned them out by then."""
    parsed = parse_feed(body, feed_id=feed.id, url=feed.url, content_type=content_type)
    return claim_parsed(r, feed, parsed, settings, pending_at=pending_at or time.time())


def claim_parsed(r: redis.Redis, feed, parsed, settings: Settings, pending_at: float) -> list[str]:
    """Claim a parsed feed's stories; the first time we see a feed, only as a baseline."""
    new = claim.claim_stories(
        r,
        feed.id,
        parsed.stories,
        story_ttl=settings.story_ttl,
        title_ttl=settings.title_ttl,
        pending_at=pending_at,
        baseline=not feed.baseline_done,
    )
    place_in_clusters(r, feed, parsed.stories, settings)
    if not feed.baseline_done:
        store.update_feed(r, feed.id, baseline_done=True)
        log.info("feed %s: baseline of %d stories recorded, none alerted", feed.id, len(parsed.stories))
    return new


def place_in_clusters(r: redis.Redis, feed, stories, settings: Settings) -> None:
    """Same-event clusters, baseline stories too; a failure here costs clustering, never the poll."""
    try:
        cluster.place(
            r,
            feed.id,
            stories,
            now=time.time(),
            window=settings.cluster_window,
            baseline=not feed.baseline_done,
        )
    except Exception:  # noqa: BLE001 - the stories are claimed already: alone, they are still alerted
        log.exception("feed %s: could not place its stories in same-event clusters", feed.id)
