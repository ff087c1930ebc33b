"""A feed that goes: its WebSub hub is told first, then everything stored about the feed goes.

The hub's answer is not waited for: the subscription is marked as ending, pushes are ignored
from then on, and the renewal sweep forgets it once the hub confirms or its time runs out.
"""

from __future__ import annotations

import logging

import redis

from notifier.feeds import websub
from notifier.models import Feed
from notifier.settings import Settings
from notifier.stories import store

log = logging.getLogger(__name__)


def remove_feed(r: redis.Redis, feed: Feed, settings: Settings) -> None:
    try:
        websub.unsubscribe(r, feed, settings)
    except websub.WebSubError as exc:  # the hub is not our business any more; its lease will lapse
        log.info("feed %s: the hub was not told we left: %s", feed.id, exc)
    store.remove_feed(r, feed)
