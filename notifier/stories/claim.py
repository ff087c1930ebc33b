"""Claiming stories in Redis, so each story is new exactly once across all feeds and workers.

A story owns up to three identity keys: its guid (scoped to its feed), its normalised link and
its normalised title. It is new only if none of them is taken. One Lua call claims a whole poll:
it is atomic (two workers polling two feeds with the same story cannot both win) and costs one
round trip however many items the feed has. A new story is also put in `stories:pending` in the
same call, so a crash between the claim and the fan-out never loses it: the tick picks it up.
Every story we keep is indexed by when we first saw it: `stories:seen` and `feed:{id}:stories`
(sorted sets trimmed to the story TTL), so listing the newest costs what is listed. An item that is
an exact copy of another feed's story is counted, in the same call, as one more outlet of that
story's event (stories/breaking.py): one round trip per poll for both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import redis

from notifier.core import metrics
from notifier.models import Story

CLAIM_LUA = """
local story_ttl, title_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local pending_at, baseline, feed_id = ARGV[3], ARGV[4] == '1', ARGV[5]
local new, duplicates = {}, 0
local now = tonumber(redis.call('TIME')[1])
local by_feed = 'feed:' .. feed_id .. ':stories'
local outlets = 0
-- An exact copy of `owner` (another story's guid, link or title): this feed is one more outlet of
-- the owner's event. A new outlet releases the stories waiting for one (`--min-sources`).
local function count_copy(owner)
  local doc = redis.call('GET', 'cl:doc:' .. owner)
  local cluster = doc and string.match(doc, '^[^\t]*\t([^\t]*)')
  if not cluster or redis.call('EXISTS', 'cl:c:' .. cluster) == 0
      or redis.call('HSETNX', 'cl:o:' .. cluster, feed_id, now) == 0 then
    return 0
  end
  for _, waiting in ipairs(redis.call('SMEMBERS', 'cl:wait:' .. cluster)) do
    redis.call('ZADD', 'stories:pending', now, waiting)
  end
  redis.call('DEL', 'cl:wait:' .. cluster)
  return 1
end
for i = 6, #ARGV, 5 do
  local sid, payload = ARGV[i], ARGV[i + 4]
  local keys = {ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]}
  local original, found_at = false, 0
  for n, key in ipairs(keys) do
    if key ~= '' then
      original = redis.call('GET', key)
      if original then found_at = n break end
    end
  end
  -- known by its link or title but not by its own guid: the same story come back (counted once,
  -- as its guid is claimed below); known by its guid: an item seen before, not counted
  if original and original ~= sid and (found_at > 1 or keys[1] == '') and not baseline then
    duplicates = duplicates + 1
  end
  local owner = original or sid
  for n, key in ipairs(keys) do
    if key ~= '' then
      local ttl = (n == 3) and title_ttl or story_ttl
      if n < 3 then
        -- guid and link stay remembered as long as the item stays in some feed
        redis.call('SET', key, owner, 'EX', ttl, 'NX')
        redis.call('EXPIRE', key, ttl)
      else
        redis.call('SET', key, owner, 'EX', ttl, 'NX')
      end
    end
  end
  if not original then
    redis.call('SET', 'story:' .. sid, payload, 'EX', story_ttl)
    redis.call('ZADD', 'stories:seen', now, sid)
    redis.call('ZADD', by_feed, now, sid)
    if not baseline then
      redis.call('ZADD', 'stories:pending', pending_at, sid)
      table.insert(new, sid)
    end
  end
  redis.call('SADD', 'story:' .. owner .. ':sources', feed_id)
  redis.call('EXPIRE', 'story:' .. owner .. ':sources', story_ttl)
  if original and original ~= sid and redis.call('EXISTS', 'story:' .. sid) == 0 then
    outlets = outlets + count_copy(original)
  end
end
-- the time indexes forget what the stories themselves have forgotten
redis.call('ZREMRANGEBYSCORE', 'stories:seen', '-inf', now - story_ttl)
redis.call('ZREMRANGEBYSCORE', by_feed, '-inf', now - story_ttl)
redis.call('EXPIRE', by_feed, story_ttl)
return {new, duplicates, outlets}
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def identity_keys(story: Story) -> tuple[str, str, str]:
    """The guid, link and title keys of a story ('' where it has none)."""
    guid = f"id:guid:{_digest(story.feed_id + chr(0) + story.guid)}" if story.guid else ""
    link = f"id:link:{_digest(story.link_key)}" if story.link_key else ""
    title = f"id:title:{_digest(story.title_key)}" if story.title_key else ""
    if not guid and not link:
        # no guid, no link: the story id (feed + full title) is all that identifies it
        guid = f"id:story:{story.id}"
    return guid, link, title


def story_payload(story: Story) -> str:
    return json.dumps(story.as_json(), ensure_ascii=False)


def claim_stories(
    r: redis.Redis,
    feed_id: str,
    stories: Iterable[Story],
    *,
    story_ttl: int,
    title_ttl: int,
    pending_at: float,
    baseline: bool = False,
) -> list[str]:
    """Claim every story of one poll at once; return the ids of the stories that are new.

    With `baseline` (a feed's first successful poll) the stories are claimed but none is new:
    what a feed already holds when we start watching it is not news.
    """
    args: list = [story_ttl, title_ttl, pending_at, "1" if baseline else "0", feed_id]
    for story in stories:
        args += [story.id, *identity_keys(story), story_payload(story)]
    if len(args) == 5:
        return []
    new, duplicates, _outlets = r.register_script(CLAIM_LUA)(args=args)
    metrics.STORIES.inc(len(new), outcome="new")
    metrics.STORIES.inc(duplicates, outcome="duplicate")
    return list(new)


def load_story(r: redis.Redis, story_id: str) -> dict | None:
    raw = r.get(f"story:{story_id}")
    return json.loads(raw) if raw else None


def load_stories(r: redis.Redis, story_ids: list[str]) -> dict[str, dict]:
    unique = sorted(set(story_ids))
    raws = r.mget([f"story:{sid}" for sid in unique]) if unique else []
    return {sid: json.loads(raw) for sid, raw in zip(unique, raws, strict=True) if raw}


def newest(r: redis.Redis, feed_id: str | None, offset: int, count: int) -> list[tuple[str, float]]:
    """(story id, first seen) newest first, from all feeds or one."""
    index = f"feed:{feed_id}:stories" if feed_id else "stories:seen"
    return r.zrevrange(index, offset, offset + count - 1, withscores=True)
