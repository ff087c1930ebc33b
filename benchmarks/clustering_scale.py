"""What the cluster index costs with many stories in the window: lookup time and Redis memory.

The window is filled with synthetic stories (headlines drawn from a Zipf-distributed vocabulary
with a few rare names each, event times spread over 48 h) written through the same commit Lua a
poll uses, 500 stories a call; then single stories are placed the way a poll places them, and the
lookup call (the read round trip) and the whole placement (lookup, scoring, commit) are timed.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from datetime import UTC, datetime

import redis

from notifier.models import Story
from notifier.stories import cluster, cluster_index, terms

WINDOW = 48 * 3600
_LETTERS = random.Random(7)
# five letters, as terms keep: common words (Zipf-weighted) and names (each rare)
_WORDS = list(
    dict.fromkeys("".join(_LETTERS.choices("abcdefghijklmnopqrstuvwxyz", k=5)) for _ in range(230_000))
)
VOCABULARY, NAMES = _WORDS[:20_000], _WORDS[20_000:220_000]
RARITY = {word: rank for rank, word in enumerate(VOCABULARY)} | dict.fromkeys(NAMES, len(VOCABULARY))
PROBES = 300
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
NO_CANDIDATES = hashlib.sha1(b"").hexdigest()  # the commit's check of an empty query


def synthetic(rng: random.Random, n: int, start: float) -> Story:
    words = rng.choices(VOCABULARY, weights=WEIGHTS, k=10) + rng.sample(NAMES, 2)
    published = start + rng.uniform(0, WINDOW)
    return Story(
        id=f"s{n:012d}",
        feed_id=f"f{n % 5000}",
        title=" ".join(words[:8]),
        link=None,
        published=datetime.fromtimestamp(published, UTC),
        summary=" ".join(words[8:]),
    )


def claimed(r: redis.Redis, count: int) -> None:
    """The story keys the claim writes before placement looks for them; not the index's memory."""
    for first in range(0, count, 5000):
        pipe = r.pipeline(transaction=False)
        for n in range(first, min(first + 5000, count)):
            pipe.set(f"story:s{n:012d}", "{}", ex=WINDOW)
        pipe.execute()


def fill(r: redis.Redis, count: int, start: float, rng: random.Random) -> None:
    """Write `count` stories into the index as a poll would, each its own cluster (fast: no lookup)."""
    for first in range(0, count, 500):
        writes = []
        for n in range(first, min(first + 500, count)):
            story = synthetic(rng, n, start)
            t = story.published.timestamp()
            words = terms.terms_of(story.title, story.summary)
            doc = cluster.Doc(story.id, t, story.id, t, story.feed_id, words, seen=t)
            # indexed as placement indexes: under its strongest terms, the names and the rarest words
            rarest = sorted(words.all(), key=lambda w: -RARITY.get(w, 0))
            day, record, strongest = int(t // 86400), doc.record(), rarest[: cluster.QUERY_TERMS]
            # an empty query: nothing else writes meanwhile, so there is no candidate list to check
            writes.append(
                (
                    story.id,
                    t,
                    day,
                    story.id,
                    t,
                    story.feed_id,
                    record,
                    False,
                    NO_CANDIDATES,
                    [],
                    strongest,
                    words.all(),
                )
            )
        cluster_index.commit(r, writes, now=start, ttl=WINDOW * 2, window=WINDOW)


def costs(r: redis.Redis, sizes: list[int]) -> dict:
    out, rng, start = {}, random.Random(12), time.time() - WINDOW
    for size in sizes:
        r.flushdb()
        claimed(r, size)
        before = r.info("memory")["used_memory"]
        fill(r, size, start, rng)
        used = r.info("memory")["used_memory"] - before
        lookups, placements = [], []
        for n in range(PROBES):
            story = synthetic(rng, size + n, start)
            r.set(f"story:{story.id}", "{}", ex=WINDOW)
            t = story.published.timestamp()
            words = terms.terms_of(story.title, story.summary)
            began = time.perf_counter()
            query = (story.id, t, int(t // 86400), words.all()[: cluster.MAX_QUERY], words.all())
            cluster_index.lookup(r, [query], WINDOW)
            lookups.append(time.perf_counter() - began)
            began = time.perf_counter()
            cluster.place(r, story.feed_id, [story], now=t, window=WINDOW)
            placements.append(time.perf_counter() - began)
        out[size] = {
            "bytes_per_story": round(used / size),
            "lookup_p50_ms": round(1000 * statistics.median(lookups), 3),
            "lookup_p99_ms": round(1000 * sorted(lookups)[int(0.99 * len(lookups)) - 1], 3),
            "place_p50_ms": round(1000 * statistics.median(placements), 3),
            "place_p99_ms": round(1000 * sorted(placements)[int(0.99 * len(placements)) - 1], 3),
            "round_trips_per_poll": 2,
        }
    return out
