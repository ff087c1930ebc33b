"""Who has heard of an event: the first alert of each cluster per subscriber URL, the updates that
may follow it, and the stories waiting for more outlets.

  cl:told:{cluster}  hash (subscriber NUL url hash) -> the delivery id of the first alert it got
  cl:loud:{cluster}  hash (subscriber NUL url hash) -> the alert that told that URL the event is urgent
  cl:re:{story}      hash delivery id -> the delivery it follows up (its e-mail thread parent)
  cl:note:{story}    hash: why a story reached fewer subscribers than its topics have (story show)

A cluster that holds a baseline story was known before we alerted anything: nobody is told of it
as news again. Every key expires with the cluster window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from notifier.stories.match import split_words

# "UPDATE"/"BREAKING" and their usual equivalents: a newsroom's own word that a story moved on.
MARKERS = frozenset(
    "update updated updates breaking urgent eilmeldung urgente срочно обновлено عاجل דחוף".split()
)
UNSPACED_MARKERS = ("突发", "速報", "속보")  # scripts without spaces: looked for inside the title
CLAIM_STEP = 10_000  # (URL, delivery) pairs per claim_first call
MUCH_LONGER = 2.0  # a summary this many times the first one's (and 200 characters more) is news

EVENT_LUA = """
local doc = redis.call('GET', 'cl:doc:' .. ARGV[1])
if not doc then return false end
local cluster = string.match(doc, '^[^\\t]*\\t([^\\t]*)')
local first, baseline = unpack(redis.call('HMGET', 'cl:c:' .. cluster, 'first', 'baseline'))
local arrivals, earliest, soon = redis.call('HVALS', 'cl:o:' .. cluster), math.huge, 0
for _, t in ipairs(arrivals) do earliest = math.min(earliest, tonumber(t)) end
for _, t in ipairs(arrivals) do if tonumber(t) - earliest <= 600 then soon = soon + 1 end end
return {cluster, first or ARGV[1], redis.call('ZCARD', 'cl:m:' .. cluster), #arrivals, baseline or '', soon}
"""

# KEYS: cl:told:{cluster}, cl:loud:{cluster}. ARGV: ttl, baseline (1/0), urgent (1/0), then field,
# delivery id pairs. Returns, per pair, what the delivery follows ('' when it is the first alert of
# the event to that URL, now or in an earlier run of the same fan-out; else the first alert's id,
# or 'baseline'), then '1' when the URL hears now, for the first time, that the event is urgent.
# A URL whose first alert was urgent is marked so then, and is never told again that it is.
CLAIM_FIRST_LUA = """
local out = {}
for i = 4, #ARGV, 2 do
  local told, loud = 'baseline', ''
  if ARGV[2] ~= '1' then
    told = redis.call('HGET', KEYS[1], ARGV[i])
    if not told then
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
      if ARGV[3] == '1' then redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
      told = ARGV[i + 1]
    elseif told ~= ARGV[i + 1] and ARGV[3] == '1' then
      redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1])
      if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then loud = '1' end  -- a rerun says it again
    end
  end
  table.insert(out, told == ARGV[i + 1] and '' or told)
  table.insert(out, loud)
end
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[1]) end
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
    within_10: int = 1  # outlets whose first copy came within 10 minutes of the first outlet's


def event_of(r: redis.Redis, story_id: str) -> Event:
    """The story's event; a story never placed (from before clustering, say) is one of its own."""
    found = r.register_script(EVENT_LUA)(args=[story_id])
    if not found:
        return Event(story_id, story_id, 1, 1, False)
    cluster, first, size, outlets, baseline, soon = found
    return Event(cluster, first, int(size), int(outlets), baseline == "1", int(soon))


# KEYS: stories:pending, cl:wait:{cluster}, cl:o:{cluster}, cl:note:{story}. ARGV: story, ttl,
# outlets it was judged with ('': no topic waits any more), now. One step, so an outlet that joins
# while the story is being fanned out is never missed: either it finds the story in cl:wait, or
# this finds one outlet more.
DONE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '' then redis.call('HDEL', KEYS[4], 'waiting') return 0 end
if redis.call('HLEN', KEYS[3]) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  return 1
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 0
"""


def fanned_out(r: redis.Redis, event: Event, story_id: str, waiting: bool, ttl: int) -> None:
    """The story's fan-out is done: off `stories:pending`, unless some topic waits for another
    outlet; then it is fanned out again when one joins (cluster_place.lua, claim.CLAIM_LUA)."""
    keys = ["stories:pending", f"cl:wait:{event.id}", f"cl:o:{event.id}", f"cl:note:{story_id}"]
    args = [story_id, ttl, event.outlets if waiting else "", int(time.time())]
    r.register_script(DONE_LUA)(keys=keys, args=args)


def claim_first(r: redis.Redis, event: Event, deliveries: dict[str, str], ttl: int) -> dict[str, str]:
    """deliveries: (subscriber NUL url hash) -> delivery id. Returns, per field, '' for the first
    alert of this event to that URL, else the id of the alert it would repeat ('baseline': none)."""
    return {field: told for field, (told, _) in claim(r, event, deliveries, ttl).items()}


def claim(
    r: redis.Redis, event: Event, deliveries: dict[str, str], ttl: int, urgent: bool = False
) -> dict[str, tuple[str, bool]]:
    """`claim_first`, and per field whether that URL, which heard of the event before it was
    urgent, is to be told now that it is (once: see CLAIM_FIRST_LUA)."""
    script, pairs, out = r.register_script(CLAIM_FIRST_LUA), list(deliveries.items()), []
    keys = [f"cl:told:{event.id}", f"cl:loud:{event.id}"]
    # in steps: Redis refuses a command of more than 1,048,576 arguments outright (a story for a
    # million subscribers would never be fanned out), and one step blocks Redis for a few ms only
    for start in range(0, len(pairs), CLAIM_STEP):
        args: list = [ttl, int(event.baseline), int(urgent)]
        for field, delivery in pairs[start : start + CLAIM_STEP]:
            args += [field, delivery]
        out += script(keys=keys, args=args)
    return {field: (out[2 * n], out[2 * n + 1] == "1") for n, field in enumerate(deliveries)}


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
        pipe, pairs = r.pipeline(transaction=False), list(parents.items())
        for start in range(0, len(pairs), CLAIM_STEP):  # in steps, as claim_first
            pipe.hset(f"cl:re:{story_id}", mapping=dict(pairs[start : start + CLAIM_STEP]))
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
