"""Same event, many outlets: each story joins the cluster of the most alike story around it, or
starts one of its own.

A story's event time is its published time when it has one (parse refuses dates far in the
future), else when we first saw it, so an item from 2017 never joins an event of 2026. Among the
stories within the window of that time, its candidates are those sharing its strongest terms
(cluster_index); it joins the most alike one (terms.likeness) if the likeness reaches THRESHOLD
and that story's cluster started at most EVENT_SPAN before or after it. The span is what keeps a
follow-up apart from the event it follows ("Kremlin rejects claim it poisoned Navalny" two days
after "Navalny poisoned with dart-frog toxin, European governments say"): a wave of reports of one
event comes within a day; later stories with the same words are reactions, and start their own.
A story never moves, and clusters never merge: a cluster id given in an alert stays true.

Every story of a poll is placed, baseline ones too, in one lookup and one write (cluster_index).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import redis

from notifier.models import Story
from notifier.stories import cluster_index, terms

log = logging.getLogger(__name__)

THRESHOLD = 0.25  # tuned on the published clusters only (docs/clustering.md)
EVENT_SPAN = 24 * 3600
QUERY_TERMS = 8  # a story is indexed under, and looks for others by, its strongest terms
DAY = 86400
ATTEMPTS = 3
MAX_QUERY = 40


@dataclass(frozen=True)
class Doc:
    """One placed story as the index keeps it."""

    id: str
    t: float  # event time
    cluster: str
    start: float  # event time of the cluster's first story
    feed: str
    terms: terms.Terms
    joined: str = ""  # the story it was found alike to ("" for a cluster's first)
    score: float = 0.0
    why: tuple[str, ...] = ()  # the terms that made it alike
    seen: float = 0.0  # when we first saw it

    def record(self) -> str:
        fields = [int(self.t), self.cluster, int(self.start), self.feed, " ".join(self.terms.title)]
        fields += [" ".join(self.terms.body), self.joined, f"{self.score:.3f}", " ".join(self.why)]
        return "\t".join(map(str, [*fields, int(self.seen)]))


def decode(story_id: str, record: str) -> Doc:
    t, cid, start, feed, title, body, joined, score, why, seen = record.split("\t")
    words = terms.Terms(tuple(title.split()), tuple(body.split()))
    return Doc(
        story_id,
        float(t),
        cid,
        float(start),
        feed,
        words,
        joined,
        float(score),
        tuple(why.split()),
        float(seen),
    )


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
            return {d.id: d for d in placed if d.id in set(done)}
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
    """doc in the cluster of the most alike eligible story, or alone; and doc's weighted terms."""
    vec = terms.vector(doc.terms, frequencies, documents)
    best, best_score, best_vec = None, 0.0, {}
    for other in others:
        if abs(doc.t - other.start) > EVENT_SPAN:
            continue
        other_vec = terms.vector(other.terms, frequencies, documents)
        score = terms.likeness(vec, other_vec)
        if score > best_score or (score == best_score and best is not None and other.id < best.id):
            best, best_score, best_vec = other, score, other_vec
    if best is None or best_score < THRESHOLD:
        return doc, vec
    why = tuple(terms.shared(vec, best_vec))
    joined = Doc(
        doc.id, doc.t, best.cluster, best.start, doc.feed, doc.terms, best.id, best_score, why, doc.seen
    )
    return joined, vec


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
