"""Same-event clustering on the real corpus: pair precision and recall against tests/corpus/clusters.tsv.

Every corpus feed goes through the intake steps a poll takes (parse_feed on the file's bytes, the
claim Lua, cluster.place), into a Redis of our own, in two orders:
  replay  the feeds as a poller would have seen them: every hour of publication time, each feed
          shows the items published by then (an undated item with its feed's first poll);
  whole   each feed once, whole, in file order: a cold start where every story is a baseline.
Pairs are judged as the issue defines them: precision and recall on pairs of labelled items (the
labels are not exhaustive, so a labelled item with an unlabelled one is neither right nor wrong:
those merges are listed for reading), F1, and recall per cluster averaged over clusters. All
published clusters are English, so every labelled pair is a same-language pair. Thresholds were
chosen on these published clusters only. `python -m benchmarks clustering`; BENCH_CLUSTER_SIZES
(default "10000,100000") sets the window sizes the cost part fills (benchmarks/clustering_scale.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import redis

from benchmarks.clustering_scale import costs
from benchmarks.stack import own_redis
from notifier.feeds.parse import parse_feed
from notifier.stories import claim, cluster
from tests.feeds import CORPUS

WINDOW = 48 * 3600
NOW = datetime(2026, 11, 30, tzinfo=UTC)  # parse refuses dates after this; the corpus is older


def load_feeds() -> dict[str, list]:
    """feed name -> its stories, index-aligned with feedparser's entries (None where parse drops one)."""
    feeds = {}
    for path in sorted((CORPUS / "feeds").glob("*.xml")):
        body = path.read_bytes()
        stories = parse_feed(
            body, feed_id=path.stem, url=f"https://corpus.example/{path.name}", now=NOW
        ).stories
        entries = feedparser.parse(io.BytesIO(body)).entries
        feeds[path.stem] = stories if len(stories) == len(entries) else _aligned(entries, stories)
    return feeds


def _aligned(entries, stories) -> list:
    titles = {" ".join(s.title.split()): s for s in stories}
    return [titles.get(" ".join((e.get("title") or "").split())) for e in entries]


def labels() -> list[tuple[str, str, int]]:
    with open(CORPUS / "clusters.tsv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    return [(label, Path(file).stem, int(index)) for label, file, index, _ in rows]


def polls(feeds: dict[str, list], order: str) -> list[tuple[float, str, list]]:
    """(clock, feed, stories) in the order a poller would have taken them in."""
    if order == "whole":
        return [(NOW.timestamp(), name, [s for s in stories if s]) for name, stories in feeds.items()]
    out = []
    for name, stories in feeds.items():
        by_hour = defaultdict(list)
        for story in filter(None, stories):
            hour = math.ceil(story.published.timestamp() / 3600) * 3600 if story.published else None
            by_hour[hour].append(story)
        hours = sorted(h for h in by_hour if h is not None)
        undated = by_hour.pop(None, [])
        for n, hour in enumerate(hours):
            out.append((hour, name, by_hour[hour] + (undated if n == 0 else [])))
        if not hours:
            out.append((NOW.timestamp(), name, undated))
    return sorted(out, key=lambda p: (p[0], p[1]))


def run_intake(r: redis.Redis, feeds: dict[str, list], order: str) -> tuple[dict[str, str], float, int]:
    """Take the corpus in; return story id -> cluster id, seconds spent placing, stories placed."""
    r.flushdb()
    seen_feeds, spent, placed = set(), 0.0, 0
    for clock, name, stories in polls(feeds, order):
        baseline = name not in seen_feeds
        seen_feeds.add(name)
        claim.claim_stories(
            r, name, stories, story_ttl=WINDOW, title_ttl=WINDOW, pending_at=clock, baseline=baseline
        )
        started = time.perf_counter()
        placed += len(cluster.place(r, name, stories, now=clock, window=WINDOW, baseline=baseline))
        spent += time.perf_counter() - started
    ids = [s.id for stories in feeds.values() for s in stories if s]
    return {sid: cid for sid, (cid, _) in cluster.of_stories(r, ids).items()}, spent, placed


def judge(feeds: dict[str, list], found: dict[str, str], owner: dict[str, str]) -> dict:
    """Pair precision/recall over labelled items; owner maps a copy's story id to its first id."""
    items = [(label, owner.get(feeds[f][i].id, feeds[f][i].id)) for label, f, i in labels()]
    right = wrong = missed = 0
    per = defaultdict(lambda: [0, 0])
    confusions = defaultdict(int)
    for (la, a), (lb, b) in itertools.combinations(items, 2):
        same = a == b or found.get(a, a) == found.get(b, b)
        if la == lb:
            per[la][1] += 1
            per[la][0] += same
            right, missed = right + same, missed + (not same)
        elif same:
            wrong += 1
            confusions[f"{la} + {lb}"] += 1
    precision = right / (right + wrong) if right + wrong else 1.0
    recall = right / (right + missed)
    return {
        "pairs": right + missed,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if right else 0.0,
        "mean_cluster_recall": round(sum(a / b for a, b in per.values()) / len(per), 3),
        "wrong_merges": dict(confusions),
        "clusters_split": {label: f"{a}/{b} pairs" for label, (a, b) in sorted(per.items()) if a < b},
    }


def merges_with_unlabelled(feeds: dict[str, list], found: dict[str, str], owner: dict[str, str]) -> dict:
    """Per labelled cluster, the unlabelled stories that share a cluster with its items: for reading."""
    stories = {s.id: s for ss in feeds.values() for s in ss if s}
    labelled = {owner.get(feeds[f][i].id, feeds[f][i].id): label for label, f, i in labels()}
    members = defaultdict(list)
    for sid, cid in found.items():
        members[cid].append(sid)
    out = defaultdict(list)
    for sid, label in labelled.items():
        for other in members[found.get(sid, sid)]:
            if (
                other not in labelled
                and f"{stories[other].feed_id}: {stories[other].title}" not in out[label]
            ):
                out[label].append(f"{stories[other].feed_id}: {stories[other].title}")
    return {label: sorted(titles) for label, titles in sorted(out.items())}


def owners(r: redis.Redis, feeds: dict[str, list]) -> dict[str, str]:
    """A copy claimed under another story's identity -> that story (as the claim recorded it)."""
    out = {}
    for stories in feeds.values():
        for story in filter(None, stories):
            for key in claim.identity_keys(story):
                if key and (first := r.get(key)) and first != story.id:
                    out[story.id] = first
                    break
    return out


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
