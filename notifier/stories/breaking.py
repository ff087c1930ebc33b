"""How strongly an event is breaking: the outlets that carry it, copies included, and when a topic
calls it urgent.

An outlet is a feed. A feed carrying an exact copy of a story another feed published first (same
guid, link or title: stories/claim.py) never becomes a story of its own, so clustering never sees
it; it is still one more outlet carrying the event, and `count_copies` records it on the first
story's cluster (`cl:o:{cluster}`) without alerting anything. A new outlet, copy or not, fans out
again the stories whose `--min-sources` topics wait for one (`cl:wait:{cluster}`).

A topic with `urgent_sources` N calls an event urgent once N outlets carried it within 10 minutes
of the first. Urgent alerts pass quiet hours for subscribers with `--urgent-passes` and use the
channel's priority (ntfy, e-mail). A URL that heard of the event before it was urgent, whose
subscriber chose `--updates`, hears it once more when it becomes urgent, as an update
(`cl:loud:{cluster}`, events.claim and alerts/same_event.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from notifier.models import Story, Topic
from notifier.stories.claim import identity_keys
from notifier.stories.events import Event

SOON = 600  # seconds: outlets within this of the first one make an event "breaking"

# ARGV: feed id, now, then per story: id, guid key, link key, title key. A story this feed does not
# own (no story:{id}) is a copy: its owner's cluster counts this feed as an outlet. Returns how
# many clusters gained an outlet.
COPIES_LUA = """
local feed, now, gained = ARGV[1], ARGV[2], 0
for i = 3, #ARGV, 4 do
  if redis.call('EXISTS', 'story:' .. ARGV[i]) == 0 then
    local owner = false
    for k = i + 1, i + 3 do
      if ARGV[k] ~= '' then owner = redis.call('GET', ARGV[k]); if owner then break end end
    end
    local doc = owner and owner ~= ARGV[i] and redis.call('GET', 'cl:doc:' .. owner)
    local cluster = doc and string.match(doc, '^[^\\t]*\\t([^\\t]*)')
    if cluster and redis.call('EXISTS', 'cl:c:' .. cluster) == 1
        and redis.call('HSETNX', 'cl:o:' .. cluster, feed, now) == 1 then
      gained = gained + 1
      for _, waiting in ipairs(redis.call('SMEMBERS', 'cl:wait:' .. cluster)) do
        redis.call('ZADD', 'stories:pending', now, waiting)
      end
      redis.call('DEL', 'cl:wait:' .. cluster)
    end
  end
end
return gained
"""


def count_copies(r: redis.Redis, feed_id: str, stories: Iterable[Story], now: float) -> int:
    """Count this feed as an outlet of the events whose stories it carries as exact copies."""
    args: list = [feed_id, int(now)]
    for story in stories:
        args += [story.id, *identity_keys(story)]
    return int(r.register_script(COPIES_LUA)(args=args)) if len(args) > 2 else 0


def urgent_topics(event: Event, topics: Iterable[Topic]) -> dict[str, str]:
    """Topic name -> why its alert of this event is urgent, for the topics that call it urgent."""
    found = {}
    for topic in topics:
        if topic.urgent_sources and event.within_10 >= topic.urgent_sources:
            found[topic.name] = f"urgent ({event.within_10} outlets within 10 min)"
        elif topic.urgent:
            found[topic.name] = "urgent topic"
    return found


def urgency_of(r: redis.Redis, story_ids: list[str]) -> dict[str, dict[str, str]]:
    """story id -> topic -> why it was urgent, as fan-out recorded it."""
    pipe = r.pipeline(transaction=False)
    for sid in story_ids:
        pipe.hgetall(f"story:{sid}:urgent")
    return dict(zip(story_ids, pipe.execute(), strict=True)) if story_ids else {}
