"""Who has heard of an event: the first alert of each cluster per subscriber URL, the updates that
may follow it, and the stories waiting for more outlets.

  cl:told:{cluster}  hash (subscriber NUL url hash) -> the delivery id of the first alert it got
  cl:re:{story}      hash delivery id -> the delivery it follows up (its e-mail thread parent)
  cl:note:{story}    hash: why a story reached fewer subscribers than its topics have (story show)

A cluster that holds a baseline story was known before we alerted anything: nobody is told of it
as news again. Every key expires with the cluster window.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from notifier.stories.match import split_words

# "UPDATE"/"BREAKING" and their usual equivalents: a newsroom's own word that a story moved on.
MARKERS = frozenset(
    "update updated updates breaking urgent eilmeldung urgente срочно обновлено عاجل דחוף".split()
)
UNSPACED_MARKERS = ("突发", "速報", "속보")  # scripts without spaces: looked for inside the title
MUCH_LONGER = 2.0  # a summary this many times the first one's (and 200 characters more) is news

EVENT_LUA = """
local doc = redis.call('GET', 'cl:doc:' .. ARGV[1])
if not doc then return false end
local cluster = string.match(doc, '^[^\\t]*\\t([^\\t]*)')
local first, baseline = unpack(redis.call('HMGET', 'cl:c:' .. cluster, 'first', 'baseline'))
return {cluster, first or ARGV[1], redis.call('ZCARD', 'cl:m:' .. cluster),
  redis.call('HLEN', 'cl:o:' .. cluster), baseline or ''}
"""

# ARGV: ttl, baseline (1/0), then field, delivery id pairs. Returns, per pair, '' when this
# delivery is the first alert of the event to that URL (now or in an earlier run of the same
# fan-out), else what it follows: the first alert's id, or 'baseline'.
CLAIM_FIRST_LUA = """
local key, out = KEYS[1], {}
for i = 3, #ARGV, 2 do
  if ARGV[2] == '1' then
    table.insert(out, 'baseline')
  else
    local told = redis.call('HGET', key, ARGV[i])
    if not told then redis.call('HSET', key, ARGV[i], ARGV[i + 1]); told = ARGV[i + 1] end
    table.insert(out, told == ARGV[i + 1] and '' or told)
  end
end
redis.call('EXPIRE', key, ARGV[1])
return out
"""


@dataclass(frozen=True)
class Event:
    """The cluster a story belongs to, as fan-out sees it."""

    id: str
    first: str  # its first story
    size: int
    outlets: int
    baseline: bool


def event_of(r: redis.Redis, story_id: str) -> Event:
    """The story's event; a story never placed (from before clustering, say) is one of its own."""
    found = r.register_script(EVENT_LUA)(args=[story_id])
    if not found:
        return Event(story_id, story_id, 1, 1, False)
    cluster, first, size, outlets, baseline = found
    return Event(cluster, first, int(size), int(outlets), baseline == "1")


def wait_for_outlets(r: redis.Redis, event: Event, story_id: str, ttl: int) -> None:
    """Fan this story out again when another outlet joins its event (see cluster_place.lua)."""
    pipe = r.pipeline(transaction=False)
    pipe.sadd(f"cl:wait:{event.id}", story_id)
    pipe.expire(f"cl:wait:{event.id}", ttl)
    pipe.execute()


def claim_first(r: redis.Redis, event: Event, deliveries: dict[str, str], ttl: int) -> dict[str, str]:
    """deliveries: (subscriber NUL url hash) -> delivery id. Returns, per field, '' for the first
    alert of this event to that URL, else the id of the alert it would repeat ('baseline': none)."""
    if not deliveries:
        return {}
    args: list = [ttl, int(event.baseline)]
    for field, delivery in deliveries.items():
        args += [field, delivery]
    told = r.register_script(CLAIM_FIRST_LUA)(keys=[f"cl:told:{event.id}"], args=args)
    return dict(zip(deliveries, told, strict=True))


def update_reason(story: dict, first: dict) -> str | None:
    """Why a later story of an event is news to someone who heard the first one, or None."""
    if story.get("id") == first.get("id"):
        return None
    title, before = set(split_words(story.get("title") or "")), set(split_words(first.get("title") or ""))
    if _marked(story.get("title") or "", title) and not _marked(first.get("title") or "", before):
        return "marked as an update"
    known = before | set(split_words(first.get("summary") or ""))
    figures = sorted(w for w in title - known if any(c.isdigit() for c in w))
    if figures:
        return "new figures: " + ", ".join(figures)
    summary, earlier = len(story.get("summary") or ""), len(first.get("summary") or "")
    if summary >= MUCH_LONGER * earlier + 200:
        return "a much longer summary"
    return None


def _marked(text: str, words: set[str]) -> bool:
    return bool(words & MARKERS) or any(marker in text for marker in UNSPACED_MARKERS)


def remember_threads(r: redis.Redis, story_id: str, parents: dict[str, str], ttl: int) -> None:
    if parents:
        pipe = r.pipeline(transaction=False)
        pipe.hset(f"cl:re:{story_id}", mapping=parents)
        pipe.expire(f"cl:re:{story_id}", ttl)
        pipe.execute()


def parents_of(r: redis.Redis, deliveries: list[tuple[str, str]]) -> dict[str, str]:
    """(story id, delivery id) pairs -> the delivery each follows up, for those that are updates."""
    pipe = r.pipeline(transaction=False)
    for story_id, delivery in deliveries:
        pipe.hget(f"cl:re:{story_id}", delivery)
    found = pipe.execute() if deliveries else []
    return {delivery: parent for (_, delivery), parent in zip(deliveries, found, strict=True) if parent}


def note(r: redis.Redis, story_id: str, ttl: int, **why) -> None:
    """Record why some subscribers heard nothing of this story (shown by `story show`)."""
    fields = {k: str(v) for k, v in why.items() if v}
    if fields:
        pipe = r.pipeline(transaction=False)
        pipe.hset(f"cl:note:{story_id}", mapping=fields)
        pipe.expire(f"cl:note:{story_id}", ttl)
        pipe.execute()


def notes(r: redis.Redis, story_id: str) -> dict[str, str]:
    return r.hgetall(f"cl:note:{story_id}")
