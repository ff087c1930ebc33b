"""Topics and subscribers, kept in Redis: who wants which stories, and where.

Layout: `topics` hash name -> JSON, `subscribers` hash name -> JSON, `topic:{name}:subs` set of
subscriber names (the match index), `topic:{name}:targets` hash (subscriber NUL url hash ->
redacted target and flags), the one read fan-out needs per topic.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import redis

from notifier.core.redact import redact
from notifier.models import Subscriber, Topic, url_hash
from notifier.stories.store.feeds import NotFound

READ_STEP = 10_000  # subscribers read in one HMGET

# --- topics ------------------------------------------------------------------------------------


def add_topic(r: redis.Redis, topic: Topic) -> None:
    r.hset("topics", topic.name, _topic_record(topic))


def _topic_record(topic: Topic) -> str:
    record = {"expr": topic.expr, "urgent": topic.urgent}
    record |= {"min_sources": topic.min_sources} if topic.min_sources > 1 else {}
    return json.dumps(record | ({"urgent_sources": topic.urgent_sources} if topic.urgent_sources else {}))


def list_topics(r: redis.Redis) -> list[Topic]:
    return [Topic(name=name, **json.loads(raw)) for name, raw in sorted(r.hgetall("topics").items())]


def topic_exists(r: redis.Redis, name: str) -> bool:
    return bool(r.hexists("topics", name))


def create_topic(r: redis.Redis, topic: Topic) -> bool:
    """Add a topic unless one of that name exists (then change nothing and return False)."""
    return bool(r.hsetnx("topics", topic.name, _topic_record(topic)))


# KEYS: topics hash, the topic's subscriber set, its target index. ARGV: the name.
REMOVE_TOPIC_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'missing'} end
local followers = redis.call('SMEMBERS', KEYS[2])
if #followers > 0 then return {'followed', unpack(followers)} end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return {'removed'}
"""


def remove_topic(r: redis.Redis, name: str) -> list[str]:
    """Remove a topic nobody follows and return []; one that is followed stays, and its
    followers are returned. Checked and done in one step, so no subscriber is left pointing
    at a topic that is gone."""
    keys = ["topics", f"topic:{name}:subs", f"topic:{name}:targets"]
    outcome, *followers = r.register_script(REMOVE_TOPIC_LUA)(keys=keys, args=[name])
    if outcome == "missing":
        raise NotFound(f"no topic named {name!r}")
    return sorted(followers)


# --- subscribers -------------------------------------------------------------------------------


def add_subscriber(r: redis.Redis, sub: Subscriber) -> None:
    """Add or replace a subscriber, keeping the topic indexes in step.

    `topic:{name}:targets` holds, per topic, one field per (subscriber, URL) with what a fan-out
    needs (the redacted target, and whether the subscriber holds alerts): a story matching a
    topic of 100,000 followers then costs one HGETALL, not 100,000 records to decode and parse.
    """
    old = get_subscriber(r, sub.name, missing_ok=True)
    pipe = r.pipeline(transaction=True)
    for topic in old.topics if old else ():
        pipe.srem(f"topic:{topic}:subs", sub.name)
        pipe.hdel(f"topic:{topic}:targets", *[target_field(sub.name, u) for u in old.urls] or ["-"])
    pipe.hset("subscribers", sub.name, _record(sub))
    entries = {target_field(sub.name, u): target_entry(sub, u) for u in sub.active_urls()}
    for topic in sub.topics:
        pipe.sadd(f"topic:{topic}:subs", sub.name)
        if entries:
            pipe.hset(f"topic:{topic}:targets", mapping=entries)
    pipe.execute()


def add_new_subscribers(r: redis.Redis, subs: list[Subscriber], chunk: int = 2000) -> None:
    """Store many subscribers known to be new (an import, a benchmark), a pipelined chunk at a
    time: the records and topic indexes `add_subscriber` writes, without reading each one first
    (a million of them one by one would take minutes)."""
    for start in range(0, len(subs), chunk):
        batch, followers, targets = subs[start : start + chunk], {}, {}
        for sub in batch:
            entries = {target_field(sub.name, u): target_entry(sub, u) for u in sub.active_urls()}
            for topic in sub.topics:
                followers.setdefault(topic, []).append(sub.name)
                targets.setdefault(topic, {}).update(entries)
        pipe = r.pipeline(transaction=False)
        pipe.hset("subscribers", mapping={sub.name: _record(sub) for sub in batch})
        for topic, names in followers.items():
            pipe.sadd(f"topic:{topic}:subs", *names)
            if targets[topic]:
                pipe.hset(f"topic:{topic}:targets", mapping=targets[topic])
        pipe.execute()


def _record(sub: Subscriber) -> str:
    return json.dumps(dataclasses.asdict(sub) | {"name": None})


def remove_subscriber(r: redis.Redis, name: str) -> Subscriber:
    """Remove a subscriber and its entries in the topic indexes; return what was removed."""
    sub = get_subscriber(r, name)
    pipe = r.pipeline(transaction=True)
    for topic in sub.topics:
        pipe.srem(f"topic:{topic}:subs", name)
        pipe.hdel(f"topic:{topic}:targets", *[target_field(name, u) for u in sub.urls] or ["-"])
    pipe.hdel("subscribers", name)
    pipe.execute()
    return sub


def target_field(name: str, url: str) -> str:
    return f"{name}\0{url_hash(url)}"


def target_entry(sub: Subscriber, url: str) -> str:
    return f"{redact(url)}\t{'held' if sub.quiet or sub.digest else ''}"


def targets_of(r: redis.Redis, topic_names: list[str]) -> dict[str, str]:
    """(subscriber NUL url_hash) -> (redacted target TAB flags), over all the given topics."""
    pipe = r.pipeline(transaction=False)
    for name in topic_names:
        pipe.hgetall(f"topic:{name}:targets")
    merged: dict[str, str] = {}
    for entries in pipe.execute():
        merged.update(entries)
    return merged


# KEYS: the topic's targets hash, then those of the topics read before it. ARGV: cursor, count.
# One HSCAN step, less the URLs an earlier topic gave already (checked inside Redis: cheaper than
# sending them back to be hashed, claimed and found to exist).
SCAN_LUA = """
local found = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = {found[1]}
for i = 1, #found[2], 2 do
  local seen = false
  for k = 2, #KEYS do
    if redis.call('HEXISTS', KEYS[k], found[2][i]) == 1 then seen = true break end
  end
  if not seen then table.insert(out, found[2][i]) table.insert(out, found[2][i + 1]) end
end
return out
"""


def targets_in_steps(r: redis.Redis, topic_names: list[str], step: int) -> Iterator[dict[str, str]]:
    """`targets_of` a few thousand at a time, so a fan-out to a million holds one step in memory.
    A field is given once (HSCAN may give one again while a hash grows: callers are idempotent)."""
    script, keys = r.register_script(SCAN_LUA), [f"topic:{name}:targets" for name in topic_names]
    for n in range(len(keys)):
        cursor = "0"
        while True:
            cursor, *flat = script(keys=[keys[n], *keys[:n]], args=[cursor, step])
            if flat:
                yield dict(zip(flat[::2], flat[1::2], strict=True))
            if cursor == "0":
                break


def get_subscriber(r: redis.Redis, name: str, missing_ok: bool = False) -> Subscriber | None:
    raw = r.hget("subscribers", name)
    if raw is None:
        if missing_ok:
            return None
        raise NotFound(f"no subscriber named {name!r}")
    return _subscriber(name, raw)


def get_subscribers(r: redis.Redis, names: list[str]) -> list[Subscriber]:
    # in steps: Redis refuses a command of more than 1,048,576 arguments (a story's updates can go
    # to a million subscribers)
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(names), READ_STEP):
        pipe.hmget("subscribers", names[start : start + READ_STEP])
    raws = [raw for step in pipe.execute() for raw in step] if names else []
    return [_subscriber(n, raw) for n, raw in zip(names, raws, strict=True) if raw]


def list_subscribers(r: redis.Redis) -> list[Subscriber]:
    return [_subscriber(n, raw) for n, raw in sorted(r.hgetall("subscribers").items())]


def subscribers_of(r: redis.Redis, topic_names: list[str]) -> set[str]:
    if not topic_names:
        return set()
    return set(r.sunion([f"topic:{name}:subs" for name in topic_names]))


SUBSCRIBER_FIELDS = {f.name for f in dataclasses.fields(Subscriber)} - {"name"}


def _subscriber(name: str, raw: str) -> Subscriber:
    data = {k: v for k, v in json.loads(raw).items() if k in SUBSCRIBER_FIELDS}
    for key in ("urls", "topics", "disabled"):
        data[key] = tuple(data.get(key) or ())
    return Subscriber(name=name, **data)


def disable_url(r: redis.Redis, name: str, uhash: str) -> Subscriber | None:
    """Stop sending to one URL of a subscriber (it failed for good); the others keep working."""
    sub = get_subscriber(r, name, missing_ok=True)
    if sub is None or uhash in sub.disabled:
        return None
    updated = dataclasses.replace(sub, disabled=(*sub.disabled, uhash))
    add_subscriber(r, updated)
    return updated
