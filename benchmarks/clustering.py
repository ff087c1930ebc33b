"""Same-event clustering on the real corpus: pair precision and recall against tests/corpus/clusters.tsv.

The corpus goes through parse, claim and cluster.place in publication order ("replay") and whole
feed by feed ("whole"), as tests/corpus_clusters.py describes. Pairs are judged as the issue
defines them: precision and recall on pairs of labelled items (the labels are not exhaustive, so a
labelled item with an unlabelled one is neither right nor wrong: those merges are listed for
reading), F1, and recall per cluster averaged over clusters. All published clusters are English,
so every labelled pair is a same-language pair. Thresholds were chosen on these published clusters
only. `python -m benchmarks clustering`; BENCH_CLUSTER_SIZES (default "10000,100000") sets the
window sizes the cost part fills (benchmarks/clustering_scale.py).
"""

from __future__ import annotations

import os

import redis

from benchmarks.clustering_scale import costs
from benchmarks.stack import own_redis
from notifier.stories import cluster
from tests.corpus_clusters import judge, load_feeds, merges_with_unlabelled, owners, run_intake


def run() -> dict:
    feeds = load_feeds()
    sizes = [int(n) for n in os.environ.get("BENCH_CLUSTER_SIZES", "10000,100000").split(",") if n]
    result: dict = {"threshold": cluster.THRESHOLD, "event_span_h": cluster.EVENT_SPAN / 3600}
    with own_redis() as url:
        r = redis.Redis.from_url(url, decode_responses=True)
        for order in ("replay", "whole"):
            found, spent, placed = run_intake(r, feeds, order)
            owner = owners(r, feeds)
            result[order] = judge(feeds, found, owner) | {"ms_per_story": round(1000 * spent / placed, 3)}
            result[order]["merges_with_unlabelled"] = merges_with_unlabelled(feeds, found, owner)
        result["scale"] = costs(r, sizes)
    table = []
    for order in ("replay", "whole"):
        q = result[order]
        table += [
            (f"{order}: pair precision, labelled pairs (%)", 100 * q["precision"], None),
            (f"{order}: pair recall (%)", 100 * q["recall"], None),
            (f"{order}: mean recall over clusters (%)", 100 * q["mean_cluster_recall"], None),
            (f"{order}: placing, ms per story", q["ms_per_story"], None),
        ]
    for size, cost in result["scale"].items():
        table += [
            (f"{size} stories: lookup p99 ms (one story)", cost["lookup_p99_ms"], None),
            (f"{size} stories: Redis bytes per story", cost["bytes_per_story"], None),
        ]
    return result | {"table": table}
