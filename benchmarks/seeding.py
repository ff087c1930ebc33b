"""What a feed's first poll leaves that the scale set-up skips: the digests of the items it read.

The set-up writes its feeds as polled (ETag, baseline) without fetching them. Without the digests
a feed's first change is read whole, and its 50 items, never claimed, are claimed and placed as 50
new stories; with them the change is what it is on a service that polled the feed: one new story.
The digests are computed from the same bytes the feed server serves (same seed and base time),
just before the change, for the feeds changed only; a mirror of the server's feeds takes the same
changes, so a feed changed twice gets the digests of its second body. A feed a poll has leased
already (its record may have been read before the digests were written) is left unchanged.
"""

from __future__ import annotations

import random
import time

import redis

from benchmarks.feedgen import FeedServer, FeedSet
from notifier.feeds import items
from notifier.stories import store

CONTENT_TYPE = "application/rss+xml; charset=utf-8"  # what the feed server answers


class SeededChanges:
    def __init__(self, r: redis.Redis, feeds: FeedServer, seed: int) -> None:
        self.r, self.feeds, self.rng = r, feeds, random.Random(f"{seed}:changes")
        self.mirror = FeedSet(feeds.count, feeds.seed, feeds.base)

    def change(self, n: int, among: int, start: int, lead: list[str]) -> None:
        """As FeedServer.change: `n` feeds at random among `among` from `start` on, wrapping."""
        picked = [(start + i) % self.feeds.count for i in self.rng.sample(range(among), min(n, among))]
        pipe = self.r.pipeline(transaction=False)
        for i in picked:
            digests = items.stored_digests(items.split_items(self.mirror.body(i), CONTENT_TYPE))
            store.update_feed(self.r, store.feed_id_for(self.feeds.url(i)), pipe=pipe, item_digests=digests)
            self.mirror.forget_body(i)
        pipe.execute()
        # a feed leased already may have been read before its digests were written: not changed
        due = self.r.zmscore("feeds:due", [store.feed_id_for(self.feeds.url(i)) for i in picked])
        picked = [i for i, at in zip(picked, due, strict=True) if at is not None and at < time.time() + 90]
        self.feeds.change_these(picked, lead)
        for k, i in enumerate(picked):
            self.mirror.change(i, lead[k] if k < len(lead) else "")
            self.mirror.forget_body(i)
