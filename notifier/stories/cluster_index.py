"""Where same-event clusters live in Redis: a whole poll is looked up, decided and written by one
Lua call, so placing costs one round trip and two workers can never both start one event's cluster.

Keys (every one expires with the window; a busy key's expiry is pushed on with each write):
  cl:doc:{story}    one placed story: event time, cluster, cluster start, feed, title terms, summary
                    terms, joined, score, why, first seen, baseline, short terms (tab-separated)
  cl:post:{term}    sorted set story -> event time: the stories a term is among the strongest of,
                    capped to the newest POSTINGS_MAX
  cl:df:{day}       hash term -> stories of that (event) day carrying it; field "" counts the stories
  cl:c:{cluster}    hash: start (event time of its first story), first (that story), baseline
  cl:m:{cluster}    sorted set member story -> event time
  cl:o:{cluster}    hash outlet (feed id) -> when its first story of the cluster arrived
  cl:wait:{cluster} set of stories whose topics wait for more outlets (`--min-sources`)

The rule the script applies is the one cluster.py describes; the script is only where it runs, next
to the data: a story's candidates and their terms never cross the network, only the decision does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis

from notifier.stories import terms

PLACE_LUA = (Path(__file__).parent / "cluster_place.lua").read_text(encoding="utf-8")


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
    baseline: bool = False  # in its feed when we started watching it: never alerted


def decode(story_id: str, record: str) -> Doc:
    t, cid, start, feed, title, body, joined, score, why, seen, baseline, *_ = record.split("\t")
    words = terms.Terms(tuple(title.split()), tuple(body.split()))
    found = (joined, float(score), tuple(why.split()), float(seen), baseline == "1")
    return Doc(story_id, float(t), cid, float(start), feed, words, *found)


@dataclass(frozen=True)
class Rule:
    """The knobs of the decision (cluster.py says what each means)."""

    window: int
    span: int
    threshold: float
    min_shared: int
    per_term: int
    candidates: int
    postings_max: int
    indexed_terms: int
    prior_stories: int


def place(
    r: redis.Redis,
    rule: Rule,
    feed: str,
    stories: list[tuple[str, float, int, terms.Terms]],
    *,
    now: float,
    baseline: bool,
) -> list[tuple[str, str, float, str, float, tuple[str, ...]]]:
    """stories: (id, event time, how many of its terms to look others up by, its terms). Returns,
    per story placed by this call: (id, cluster, cluster start, joined, score, why)."""
    args: list = [int(now), rule.window + 3600, rule.window, rule.span, rule.threshold, rule.min_shared]
    args += [rule.per_term, rule.candidates, rule.postings_max, rule.indexed_terms, rule.prior_stories]
    args += [terms.TITLE_WEIGHT, terms.SHORT_WEIGHT, int(baseline), feed]
    for sid, t, asked, words in stories:
        short = " ".join(w for w in words.all() if terms.is_short(w))
        args += [sid, int(t), asked, " ".join(words.title), " ".join(words.body), short]
    placed = r.register_script(PLACE_LUA)(args=args)
    return [
        (sid, cid, float(start), joined, float(score), tuple(why.split()))
        for sid, cid, start, joined, score, why in placed
    ]
