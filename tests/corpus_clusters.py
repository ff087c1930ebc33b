"""The labelled corpus clusters run through the real intake steps: used by tests/test_cluster.py
and benchmarks/clustering.py (which says how pairs are judged).

Every corpus feed goes through the steps a poll takes (parse_feed on the file's bytes, the claim
Lua, cluster.place) in one of two orders:
  replay  as a poller would have seen the feeds: every hour of publication time, each feed shows
          the items published by then (an undated item comes with its feed's first poll);
  whole   each feed once, whole, in file order: a cold start where every story is a baseline.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import redis

from notifier.feeds.parse import parse_feed
from notifier.stories import claim, cluster
from tests.feeds import CORPUS

WINDOW = 48 * 3600
NOW = datetime(2026, 11, 30, tzinfo=UTC)  # parse refuses dates after this; the corpus is older


def load_feeds(captured: str = "") -> dict[str, list]:
    """feed name -> its stories, index-aligned with feedparser's entries (None where parse drops one).
    With `captured` ("2026-02"), only the feeds MANIFEST says were captured then: the published
    clusters come from that window, and no item of another capture is within days of it."""
    feeds = {}
    for path in sorted((CORPUS / "feeds").glob("*.xml")):
        if captured and path.stem not in _captured(captured):
            continue
        body = path.read_bytes()
        stories = parse_feed(
            body, feed_id=path.stem, url=f"https://corpus.example/{path.name}", now=NOW
        ).stories
        entries = feedparser.parse(io.BytesIO(body)).entries
        feeds[path.stem] = stories if len(stories) == len(entries) else _aligned(entries, stories)
    return feeds


def _captured(when: str) -> set[str]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {Path(row["file"]).stem for row in rows if f"captured ~{when}" in row["notes"]}


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
