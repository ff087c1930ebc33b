"""What the cluster index costs with many stories in the window: placing time and Redis memory.

The window is filled with synthetic stories (headlines drawn from a Zipf-distributed vocabulary
with a few rare names each, event times spread over 48 h) written by the same Lua call a poll
uses, 500 stories a call, each indexed without looking others up (fast; the index is the same).
Then single stories are placed as a one-story poll places them: one EVALSHA that looks up the
candidates, scores them and writes the decision. That call is timed from Python, round trip
included, against the limit measured in the same run: a trivial EVALSHA's round trip; and inside
Redis, from its slow log set to record every call. Redis commands per poll are counted by the
server (INFO commandstats), not assumed.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from datetime import UTC, datetime

import redis

from benchmarks.records import Record, Target
from benchmarks.stack import own_redis
from notifier.models import Story
from notifier.stories import cluster, cluster_index, terms

WINDOW = 48 * 3600
_LETTERS = random.Random(7)
# five letters, as terms keep: common words (Zipf-weighted) and names (each rare)
_WORDS = list(
    dict.fromkeys("".join(_LETTERS.choices("abcdefghijklmnopqrstuvwxyz", k=5)) for _ in range(230_000))
)
VOCABULARY, NAMES = _WORDS[:20_000], _WORDS[20_000:220_000]
CUMULATIVE = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))
TARGET_MS = 2.0  # issue 12: lookup p99 at 10^6 stories


def synthetic(rng: random.Random, n: int, start: float) -> Story:
    words = rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=10) + rng.sample(NAMES, 2)
    return Story(
        id=f"s{n:012d}",
        feed_id=f"f{n % 5000}",
        title=" ".join(words[:8]),
        link=None,
        published=datetime.fromtimestamp(start + rng.uniform(0, WINDOW), UTC),
        summary=" ".join(words[8:]),
    )


def claimed(r: redis.Redis, first: int, count: int) -> None:
    """The story keys the claim writes before placement looks for them; not the index's memory."""
    for low in range(first, first + count, 5000):
        pipe = r.pipeline(transaction=False)
        for n in range(low, min(low + 5000, first + count)):
            pipe.set(f"story:s{n:012d}", "{}", ex=WINDOW)
        pipe.execute()


def fill(r: redis.Redis, first: int, count: int, start: float, rng: random.Random) -> None:
    """Index `count` stories as polls would, each its own cluster (asking 0 terms: no lookup)."""
    rule = _rule()
    for low in range(first, first + count, 500):
        stories = [synthetic(rng, n, start) for n in range(low, min(low + 500, first + count))]
        asks = [(s.id, s.published.timestamp(), 0, terms.terms_of(s.title, s.summary)) for s in stories]
        cluster_index.place(r, rule, "filler", asks, now=start, baseline=False)


def _rule() -> cluster_index.Rule:
    return cluster_index.Rule(
        WINDOW,
        cluster.EVENT_SPAN,
        cluster.THRESHOLD,
        cluster.MIN_SHARED,
        cluster.PER_TERM,
        cluster.CANDIDATES_MAX,
        cluster.POSTINGS_MAX,
        cluster.QUERY_TERMS,
        cluster.PRIOR,
    )


def _p(values: list[float], q: float) -> float:
    return sorted(values)[max(0, round(q * len(values)) - 1)]


def probe(
    r: redis.Redis, rng: random.Random, first: int, count: int, start: float
) -> tuple[list[float], list[float]]:
    """Seconds per one-story poll placement (lookup, scoring and write in one call): from Python,
    and inside Redis as its slow log records every call when told to (no client, no network)."""
    stories = [synthetic(rng, first + n, start) for n in range(count)]
    claimed(r, first, count)
    r.config_set("slowlog-max-len", count + 10)
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    spent = []
    for story in stories:
        began = time.perf_counter()
        cluster.place(r, story.feed_id, [story], now=story.published.timestamp(), window=WINDOW)
        spent.append(time.perf_counter() - began)
    logged = r.slowlog_get(count + 10)
    r.config_set("slowlog-log-slower-than", 10_000)
    inside = [e["duration"] / 1e6 for e in logged if e["command"][:7] in (b"EVALSHA", "EVALSHA")]
    return spent, inside


def raw_round_trips(r: redis.Redis, count: int) -> list[float]:
    """The floor any one-call placement stands on: a trivial EVALSHA's round trip from Python."""
    trivial = r.register_script("return 1")
    trivial()
    spent = []
    for _ in range(count):
        began = time.perf_counter()
        trivial()
        spent.append(time.perf_counter() - began)
    return spent


def commands_per_poll(r: redis.Redis, rng: random.Random, first: int, start: float) -> int:
    """Redis commands one poll of ten stories costs for clustering, as the server counts them."""
    stories = [synthetic(rng, first + n, start) for n in range(10)]
    claimed(r, first, 10)
    cluster.place(r, "warm", stories[:1], now=start, window=WINDOW)  # the script is loaded once
    r.config_resetstat()
    cluster.place(r, "poll", stories[1:], now=start, window=WINDOW)
    calls = r.info("commandstats")
    # the Lua call's own commands are counted under their names too: only the client's count
    return sum(v["calls"] for k, v in calls.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


def run(quick: bool = False) -> list[Record]:
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    rounds, probes = (3, 100) if quick else (3, 300)
    records: list[Record] = []
    with own_redis() as url:
        r = redis.Redis.from_url(url, decode_responses=True)
        rng, start, filled = random.Random(12), time.time() - WINDOW, 0
        for size in sizes:
            claimed(r, filled, size - filled)
            before = r.info("memory")["used_memory"]
            fill(r, filled, size - filled, start, rng)
            per_story = (r.info("memory")["used_memory"] - before) / (size - filled)
            filled = size
            p50s, p99s, raw50, raw99, server = [], [], [], [], []
            for _ in range(rounds):
                spent, inside = probe(r, rng, filled, probes, start)
                server.append(1000 * _p(inside, 0.99))
                filled += probes
                floor = raw_round_trips(r, probes)
                p50s.append(1000 * statistics.median(spent))
                p99s.append(1000 * _p(spent, 0.99))
                raw50.append(1000 * statistics.median(floor))
                raw99.append(1000 * _p(floor, 0.99))
            at = f"{size:.0e}".replace("e+0", "e")
            records += [
                Record(
                    "clustering_scale",
                    f"place one story p50, {at} stories",
                    "ms",
                    p50s,
                    statistics.median(raw50),
                    raw50,
                    note="lookup + score + write, one EVALSHA",
                ),
                Record(
                    "clustering_scale",
                    f"place one story p99, {at} stories",
                    "ms",
                    p99s,
                    statistics.median(raw99),
                    raw99,
                    Target("<=", TARGET_MS),
                    note="limit: a trivial EVALSHA round trip",
                ),
                Record(
                    "clustering_scale",
                    f"place one story p99 inside Redis, {at} stories",
                    "ms",
                    server,
                    note="the script's own time per call, from Redis's slow log: no client, no network",
                ),
                Record(
                    "clustering_scale",
                    f"Redis bytes per story, {at} stories",
                    "B",
                    [per_story],
                    note="index only; the claim's story keys not counted",
                ),
            ]
        calls = commands_per_poll(r, rng, filled, start)
        records.append(
            Record(
                "clustering_scale",
                "Redis calls per poll for clustering",
                "calls",
                [calls],
                target=Target("<=", 1),
                note="counted by the server: INFO commandstats",
            ),
        )
    return records
