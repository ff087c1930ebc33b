"""Same event, many outlets: each story joins the cluster of the most alike story around it, or
starts one of its own.

A story's event time is its published time when it has one (parse refuses dates far in the
future), else when we first saw it, so an item from 2017 never joins an event of 2026. Among the
stories within the window of that time, its candidates are those sharing its strongest terms
(cluster_index); it joins the most alike one (cosine of weighted terms) if that reaches THRESHOLD,
they share MIN_SHARED terms and that story's cluster started at most EVENT_SPAN before or after
it; failing that, the cluster whose candidate members' terms, summed, are that alike. The span
keeps a follow-up apart from the event it follows ("Kremlin rejects claim it poisoned Navalny" two days
after "Navalny poisoned with dart-frog toxin, European governments say"): a wave of reports of one
event comes within a day; later stories with the same words are reactions, and start their own.
A story never moves, and clusters never merge: a cluster id given in an alert stays true.

Every story of a poll is placed, baseline ones too, by one Lua call that looks up, decides and
writes (cluster_index, cluster_place.lua): one round trip, and atomic, so two workers taking two
outlets' copies of an event at the same moment cannot both start a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from notifier.core import metrics
from notifier.models import Story
from notifier.stories import cluster_index, terms
from notifier.stories.cluster_index import Doc, decode

THRESHOLD = 0.25  # tuned on the published clusters only (docs/clustering.md)
EVENT_SPAN = 24 * 3600  # a story joins only clusters that started within a day of it
MIN_SHARED = 3  # terms in common, short words not counted
QUERY_TERMS = 8  # a story is indexed under, and looks for others by, its strongest terms
MAX_QUERY = 12  # terms a story looks others up by: its title's, then its summary's
PER_TERM = 10  # newest stories read per term; a term busier than this is not what finds an event
CANDIDATES_MAX = 10  # per story, those sharing the most strong terms first
POSTINGS_MAX = 1000  # stories kept per term
# Until the window holds this many stories, count it as holding them: with three stories seen, a
# term two of them share would otherwise weigh as little as "the".
PRIOR = 100


def event_time(story: Story, now: float) -> float:
    return story.published.timestamp() if story.published else now


def place(
    r: redis.Redis, feed_id: str, stories: list[Story], *, now: float, window: int, baseline: bool = False
) -> dict[str, Doc]:
    """Place a poll's stories in clusters; return the newly placed ones by id. Idempotent: a story
    placed before, or a copy whose identity another story claimed, is left alone."""
    unique = {s.id: (s, event_time(s, now), terms.terms_of(s.title, s.summary)) for s in stories}
    ordered = sorted(unique.values(), key=lambda u: (u[1], u[0].id))
    asks = [(s.id, t, MAX_QUERY, words) for s, t, words in ordered]
    if not asks:
        return {}
    rule = cluster_index.Rule(
        window, EVENT_SPAN, THRESHOLD, MIN_SHARED, PER_TERM, CANDIDATES_MAX, POSTINGS_MAX, QUERY_TERMS, PRIOR
    )
    placed = cluster_index.place(r, rule, feed_id, asks, now=now, baseline=baseline)
    kept = {}
    for sid, cid, start, joined, score, why in placed:
        _, t, words = unique[sid]
        kept[sid] = Doc(sid, t, cid, start, feed_id, words, joined, score, why, now, baseline)
    if joined_count := sum(1 for d in kept.values() if d.joined):
        metrics.STORIES.inc(joined_count, outcome="clustered")  # joined an event already seen
    return kept


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
