"""Same-event clustering on the real corpus: pair precision and recall against tests/corpus/clusters.tsv.

The corpus goes through parse, claim and cluster.place in publication order ("replay") and whole
feed by feed ("whole"), as tests/corpus_clusters.py describes; quick runs the replay only, of the
feeds captured in February 2026 (the same figures: no other item is within days of those). Pairs
are judged as the issue defines them: precision and recall on pairs of labelled items (the labels
are not exhaustive, so a labelled item with an unlabelled one is neither right nor wrong: those
merges are listed in the note of their own row, for reading), F1, and recall per cluster averaged
over clusters. All published clusters are English, so every labelled pair is a same-language pair.
The thresholds were chosen on these published clusters only (docs/clustering.md). The cost of the
index with many stories in the window is benchmarks/clustering_scale.py.
"""

from __future__ import annotations

import redis

from benchmarks.records import Record, Target
from benchmarks.stack import own_redis
from tests.corpus_clusters import judge, load_feeds, merges_with_unlabelled, owners, run_intake

NAME = "clustering"


def run(quick: bool = False) -> list[Record]:
    feeds = load_feeds("2026-02" if quick else "")
    records: list[Record] = []
    with own_redis() as url:
        r = redis.Redis.from_url(url, decode_responses=True)
        for order in ("replay",) if quick else ("replay", "whole"):
            found, spent, placed = run_intake(r, feeds, order)
            owner = owners(r, feeds)
            records += _rows(order, judge(feeds, found, owner), 1000 * spent / placed)
            merges = merges_with_unlabelled(feeds, found, owner)
            listed = "; ".join(f"{label}: {' | '.join(titles)}" for label, titles in merges.items())
            count = sum(len(titles) for titles in merges.values())
            records.append(
                Record(NAME, f"{order}: merges with unlabelled items", "stories", [count], note=listed)
            )
    return records


def _rows(order: str, q: dict, ms_per_story: float) -> list[Record]:
    wrong = ", ".join(f"{pair}: {n}" for pair, n in q["wrong_merges"].items()) or "none"
    split = ", ".join(f"{label} {pairs}" for label, pairs in q["clusters_split"].items()) or "none"
    return [
        Record(
            NAME,
            f"{order}: pair precision",
            "",
            [q["precision"]],
            target=Target(">=", 0.95),
            note=f"{q['pairs']} labelled same-event pairs; wrong merges: {wrong}",
        ),
        Record(
            NAME,
            f"{order}: pair recall",
            "",
            [q["recall"]],
            target=Target(">=", 0.90),
            note=f"split: {split}",
        ),
        Record(
            NAME,
            f"{order}: mean recall over clusters",
            "",
            [q["mean_cluster_recall"]],
            target=Target(">=", 0.85),
        ),
        Record(NAME, f"{order}: pair F1", "", [q["f1"]]),
        Record(
            NAME,
            f"{order}: placing, per story",
            "ms",
            [ms_per_story],
            note="claim excluded; one Lua call per poll, timed from Python",
        ),
    ]
