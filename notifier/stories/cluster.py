"""Same event, many outlets: each story joins the cluster of the most alike story around it, or
starts one of its own.

A story's event time is its published time when it has one (parse refuses dates far in the
future), else when we first saw it, so an item from 2017 never joins an event of 2026. Among the
stories within the window of that time, its candidates are those sharing its strongest terms
(cluster_index); it joins the most alike one (terms.likeness) if the likeness reaches THRESHOLD,
they share MIN_SHARED terms and that story's cluster started at most EVENT_SPAN before or after
it; failing that, the cluster whose candidate members' terms, summed, are that alike. The span
keeps a follow-up apart from the event it follows ("Kremlin rejects claim it poisoned Navalny" two days
after "Navalny poisoned with dart-frog toxin, European governments say"): a wave of reports of one
event comes within a day; later stories with the same words are reactions, and start their own.
A story never moves, and clusters never merge: a cluster id given in an alert stays true.

Every story of a poll is placed, baseline ones too, in one lookup and one write (cluster_index).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from dataclasses import dataclass

import redis

from notifier.core import metrics
from notifier.models import Story
from notifier.stories import cluster_index, terms
from notifier.stories.cluster_index import Doc, decode

log = logging.getLogger(__name__)

THRESHOLD = 0.25  # tuned on the published clusters only (docs/clustering.md)
EVENT_SPAN = 24 * 3600  # a story joins only clusters that started within a day of it
MIN_SHARED = 3  # terms in common, short words not counted
QUERY_TERMS = 8  # a story is indexed under, and looks for others by, its strongest terms
DAY = 86400
ATTEMPTS = 3  # placements decided again after a race with another worker
MAX_QUERY = 20  # terms a story looks others up by: its title's, then its summary's


def event_time(story: Story, now: float) -> float:
    return story.published.timestamp() if story.published else now


def place(
    r: redis.Redis, feed_id: str, stories: list[Story], *, now: float, window: int, baseline: bool = False
) -> dict[str, Doc]:
    """Place a poll's stories in clusters; return the newly placed ones by id. Idempotent: a story
    placed before, or a copy whose identity another story claimed, is left alone."""
    unique = {s.id: s for s in stories}
    fresh = sorted(
        (
            Doc(
                s.id,
                event_time(s, now),
                s.id,
                event_time(s, now),
                feed_id,
                terms.terms_of(s.title, s.summary),
                seen=now,
                baseline=baseline,
            )
            for s in unique.values()
        ),
        key=lambda d: (d.t, d.id),
    )
    for _ in range(ATTEMPTS):
        writes, placed = _decide(r, fresh, window, baseline)
        if not writes:
            return {}
        done = cluster_index.commit(r, writes, now=now, ttl=window + 3600, window=window)
        if done is not None:
            kept = {d.id: d for d in placed if d.id in set(done)}
            joined = sum(1 for d in kept.values() if d.joined)
            if joined:
                metrics.STORIES.inc(joined, outcome="clustered")  # joined an event already seen
            return kept
        log.debug("cluster placement of feed %s raced another worker; looking again", feed_id)
    log.warning("feed %s: cluster placement kept racing; its stories stay alone", feed_id)
    return {}


def _decide(r: redis.Redis, fresh: list[Doc], window: int, baseline: bool) -> tuple[list[tuple], list[Doc]]:
    batch_df = _batch_frequencies(fresh)
    # Looked up by all its terms (the weights are not known before the lookup); others are
    # indexed only under their strongest, so the common words find nothing and cost little.
    queries = [(d.id, d.t, _day(d.t), d.terms.all()[:MAX_QUERY], d.terms.all()) for d in fresh]
    answers, records = cluster_index.lookup(r, queries, window)
    known = {sid: decode(sid, raw) for sid, raw in records.items()}
    writes, placed = [], []
    for doc, (sid, t, day, query, _), answer in zip(fresh, queries, answers, strict=True):
        state, chosen, words, counts, total, digest = answer
        if state:  # placed already, or a copy of a story placed under its first id
            continue
        frequencies = Counter(dict(zip(words, map(int, counts), strict=True)))
        for near in (day - 1, day, day + 1):
            frequencies.update(batch_df.get(near, {}))
        documents = int(total) + sum(batch_df.get(near, {}).get("", 0) for near in (day - 1, day, day + 1))
        others = [known[c] for c in chosen if c in known] + [p for p in placed if abs(p.t - doc.t) <= window]
        doc, vec = _join(doc, others, frequencies, documents)
        placed.append(doc)
        posts = terms.strongest(vec, QUERY_TERMS)
        writes.append(
            (
                sid,
                t,
                day,
                doc.cluster,
                doc.start,
                doc.feed,
                doc.record(),
                baseline,
                digest,
                query,
                posts,
                doc.terms.all(),
            )
        )
    return writes, placed


def _join(doc: Doc, others: list[Doc], frequencies: Counter, documents: int) -> tuple[Doc, dict]:
    """doc in the cluster of the most alike eligible story, else of the most alike cluster taken
    as a whole (its members' terms summed), or alone; and doc's weighted terms."""
    vec = terms.vector(doc.terms, frequencies, documents)
    eligible = [o for o in others if abs(doc.t - o.start) <= EVENT_SPAN]
    vectors = {o.id: terms.vector(o.terms, frequencies, documents) for o in eligible}
    scored = [(_alike(vec, vectors[o.id]), o) for o in eligible]
    score, best = max(scored, key=lambda pair: (pair[0], pair[1].id), default=(0.0, None))
    if best is None or score < THRESHOLD:
        # a story can be about the event without being close to any one report of it: "Progress
        # but not compromise as U.S.-Iran talks end" against six reports of the Geneva talks
        score, best = _most_alike_cluster(vec, eligible, vectors)
        if best is None or score < THRESHOLD:
            return doc, vec
    why = tuple(terms.shared(vec, vectors[best.id]))
    joined = dataclasses.replace(
        doc, cluster=best.cluster, start=best.start, joined=best.id, score=score, why=why
    )
    return joined, vec


def _alike(a: dict, b: dict) -> float:
    # two words in common ("Israel", "ambassador") make a topic, not an event
    return terms.likeness(a, b) if terms.words_shared(a, b) >= MIN_SHARED else 0.0


def _most_alike_cluster(vec: dict, members: list[Doc], vectors: dict) -> tuple[float, Doc | None]:
    """The best likeness to a cluster's summed member terms, and that cluster's closest member."""
    sums: dict[str, Counter] = {}
    for member in members:
        sums.setdefault(member.cluster, Counter()).update(vectors[member.id])
    best = (0.0, None)
    for cid, summed in sorted(sums.items()):
        norm = math.sqrt(sum(w * w for w in summed.values())) or 1.0
        score = _alike(vec, {t: w / norm for t, w in summed.items()})
        if score > best[0]:
            closest = max(
                (m for m in members if m.cluster == cid), key=lambda m: terms.likeness(vec, vectors[m.id])
            )
            best = (score, closest)
    return best


def _batch_frequencies(docs: list[Doc]) -> dict[int, Counter]:
    """day -> term -> stories of this poll carrying it ("" counts the stories)."""
    by_day: dict[int, Counter] = {}
    for doc in docs:
        counts = by_day.setdefault(_day(doc.t), Counter())
        counts.update(doc.terms.all())
        counts[""] += 1
    return by_day


def _day(t: float) -> int:
    return int(t // DAY)


# --- reading clusters back: what `story list` and `story show` print -----------------------------


@dataclass(frozen=True)
class View:
    """A story's cluster: its members oldest first, and how strongly it is breaking."""

    id: str
    start: float
    baseline: bool  # it holds a story that was in a feed when we started watching it
    members: tuple[Doc, ...]
    outlets: int  # distinct feeds carrying it
    within_10: int  # outlets whose first story of it came within 10 minutes of the first outlet's
    within_30: int

    @property
    def size(self) -> int:
        return len(self.members)


def of_stories(r: redis.Redis, story_ids: list[str]) -> dict[str, tuple[str, int]]:
    """story id -> (cluster id, cluster size); a story never placed is a cluster of its own."""
    records = r.mget([f"cl:doc:{sid}" for sid in story_ids]) if story_ids else []
    clusters = {sid: raw.split("\t")[1] for sid, raw in zip(story_ids, records, strict=True) if raw}
    pipe = r.pipeline(transaction=False)
    for cid in clusters.values():
        pipe.zcard(f"cl:m:{cid}")
    sizes = dict(zip(clusters.values(), pipe.execute(), strict=True))
    return {sid: (clusters.get(sid, sid), max(1, sizes.get(clusters.get(sid), 1))) for sid in story_ids}


def of_story(r: redis.Redis, story_id: str) -> View | None:
    """The cluster of a story, or None if the story was never placed (or its window has passed)."""
    raw = r.get(f"cl:doc:{story_id}")
    if raw is None:
        return None
    cid = decode(story_id, raw).cluster
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(f"cl:c:{cid}")
    pipe.zrange(f"cl:m:{cid}", 0, -1)
    pipe.hgetall(f"cl:o:{cid}")
    info, ids, outlets = pipe.execute()
    records = r.mget([f"cl:doc:{sid}" for sid in ids]) if ids else []
    members = tuple(decode(sid, rec) for sid, rec in zip(ids, records, strict=True) if rec)
    arrivals = sorted(float(t) for t in outlets.values())
    start = float(info.get("start") or (members[0].start if members else 0.0))
    return View(cid, start, info.get("baseline") == "1", members, len(arrivals), *_waves(arrivals))


def _waves(arrivals: list[float]) -> tuple[int, int]:
    first = arrivals[0] if arrivals else 0.0
    return sum(t - first <= 600 for t in arrivals), sum(t - first <= 1800 for t in arrivals)
