"""The delivery ledger: one record per (story, subscriber, notification URL) and its state.

States: pending -> sending -> sent | retrying (-> sending ...) | failed | dropped; and
held (quiet hours or a digest) -> sending -> sent, for all held alerts of one URL at once.
`delivery:{id}` is a hash; `deliveries:due` orders the ones waiting (score = when to try, or
the lease of a send in progress); `story:{id}:deliveries` and `deliveries:recent` list them.
The step pending/retrying/held -> sending is a compare-and-set in Lua: of two copies of a task
(a redelivered message, a sweep racing a slow worker) exactly one sends.
"""

from __future__ import annotations

import hashlib
import time

import redis

from notifier.models import Delivery, url_hash  # noqa: F401 - url_hash is used as ledger.url_hash

KEPT_RECENT = 10_000  # deliveries:recent lists the newest this many (CREATE_LUA trims it)
CREATE_LUA = """
local created, due = {}, {}
local ttl, due_at, now, story = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV, 6 do
  local id = ARGV[i]
  local key = 'delivery:' .. id
  if redis.call('EXISTS', key) == 0 then
    local held_until = ARGV[i + 5]
    local state = held_until == '' and 'pending' or 'held'
    -- no id (the key says it), attempts (0) or updated (= created) until they differ: ~20% less per row
    redis.call('HSET', key, 'story', ARGV[i + 1], 'subscriber', ARGV[i + 2],
      'url_hash', ARGV[i + 3], 'target', ARGV[i + 4], 'state', state, 'created', now)
    redis.call('EXPIRE', key, ttl)
    if held_until ~= '' then
      redis.call('HSET', key, 'next_at', held_until)
      redis.call('ZADD', 'deliveries:due', held_until, id)
      local held = 'held:' .. ARGV[i + 2] .. ':' .. ARGV[i + 3]
      redis.call('SADD', held, id)
      redis.call('EXPIRE', held, ttl)  -- gone with the deliveries it lists
    else
      table.insert(due, due_at)
      table.insert(due, id)
    end
    table.insert(created, id)
  end
end
-- the per-story lists and the due set are written in bulk, not once per row
for first = 1, #created, 4000 do
  local last = math.min(first + 3999, #created)
  redis.call('RPUSH', 'story:' .. story .. ':deliveries', unpack(created, first, last))
  redis.call('LPUSH', 'deliveries:recent', unpack(created, first, last))
end
for first = 1, #due, 4000 do
  redis.call('ZADD', 'deliveries:due', unpack(due, first, math.min(first + 3999, #due)))
end
if #created > 0 then
  redis.call('EXPIRE', 'story:' .. story .. ':deliveries', ttl)
  redis.call('LTRIM', 'deliveries:recent', 0, 9999)
end
local now_due = {}
for n = 2, #due, 2 do table.insert(now_due, due[n]) end
return now_due
"""

# ARGV: now, lease end, the states a send may start from (comma separated), the digest these
# alerts are sent in ('' for none), then the ids.
BEGIN_MANY_LUA = """
local taken, from = {}, ',' .. ARGV[3] .. ','
for i = 5, #ARGV do
  local key = 'delivery:' .. ARGV[i]
  local state = redis.call('HGET', key, 'state')
  if state and string.find(from, ',' .. state .. ',', 1, true) then
    redis.call('HSET', key, 'state', 'sending', 'updated', ARGV[1])
    redis.call('HSETNX', key, 'first_try', ARGV[1])
    if ARGV[4] ~= '' then redis.call('HSET', key, 'digest', ARGV[4]) end
    redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('ZADD', 'deliveries:due', ARGV[2], ARGV[i])
    table.insert(taken, ARGV[i])
  end
end
return taken
"""


def delivery_id(story_id: str, subscriber: str, uhash: str) -> str:
    return hashlib.sha256(f"{story_id}\0{subscriber}\0{uhash}".encode()).hexdigest()[:16]


def create(
    r: redis.Redis, rows: list[tuple], *, ttl: int, lease_until: float, ids: list[str] | None = None
) -> list[str]:
    """Record deliveries that don't exist yet; return the new ones to send now.

    A row is (story, subscriber, url_hash, target) or, for an alert to hold, the same plus the
    time to release it; held rows wait in the due set and are not returned. One call per story.
    `ids`: the rows' delivery ids when the caller has them already (fan-out), so none is hashed twice.
    """
    by_story: dict[str, list] = {}
    for n, (story, subscriber, uhash, target, *held) in enumerate(rows):
        held_until = held[0] if held and held[0] else ""
        did = ids[n] if ids else delivery_id(story, subscriber, uhash)
        by_story.setdefault(story, []).extend([did, story, subscriber, uhash, target, held_until])
    script, created = r.register_script(CREATE_LUA), []
    for story, args in by_story.items():
        created += script(args=[ttl, lease_until, time.time(), story, *args])
    return created


def begin_many(r: redis.Redis, ids: list[str], lease_until: float) -> list[str]:
    """`begin` for a batch: the ids this caller now owns the send of."""
    return _begin(r, ids, lease_until, "pending,retrying")


def sent_many(r: redis.Redis, ids: list[str]) -> None:
    """Mark a batch sent in one round trip."""
    now, pipe = time.time(), r.pipeline(transaction=False)
    for did in ids:
        pipe.hset(f"delivery:{did}", mapping={"state": "sent", "updated": now, "last_error": ""})
    if ids:
        pipe.zrem("deliveries:due", *ids)
        pipe.hincrby("deliveries:count", "sent", len(ids))
    pipe.execute()


def defer(r: redis.Redis, delivery_id_: str, until: float) -> None:
    """Give back a send we took but did not try: as it was, due again at `until`."""
    pipe = r.pipeline(transaction=True)
    pipe.hincrby(f"delivery:{delivery_id_}", "attempts", -1)
    pipe.hset(
        f"delivery:{delivery_id_}", mapping={"state": "retrying", "next_at": until, "updated": time.time()}
    )
    pipe.zadd("deliveries:due", {delivery_id_: until})
    pipe.execute()


def begin_held(r: redis.Redis, ids: list[str], lease_until: float, digest: str = "") -> list[str]:
    """Take every still-held alert of the list for one send (a digest); return those taken.
    `digest`, kept on each: the identity of that message, so it can go again whole (interruptions.py)."""
    return _begin(r, ids, lease_until, "held", digest)


def digest_id(ids: list[str]) -> str:
    """The identity of a digest of these alerts: the same alerts, the same identity."""
    return "digest-" + hashlib.sha256("\0".join(sorted(ids)).encode()).hexdigest()[:16]


def _begin(
    r: redis.Redis, ids: list[str], lease_until: float, from_states: str, digest: str = ""
) -> list[str]:
    script = r.register_script(BEGIN_MANY_LUA)
    return list(script(args=[time.time(), lease_until, from_states, digest, *ids])) if ids else []


def finish(
    r: redis.Redis, delivery_id_: str, state: str, *, error: str | None = None, next_at: float | None = None
) -> None:
    """Record the outcome; a retry goes back in the due set, anything final leaves it."""
    fields = {"state": state, "updated": time.time(), "last_error": error or ""}
    pipe = r.pipeline(transaction=True)
    if next_at is not None:
        fields["next_at"] = next_at
        pipe.zadd("deliveries:due", {delivery_id_: next_at})
    else:
        pipe.zrem("deliveries:due", delivery_id_)
    pipe.hset(f"delivery:{delivery_id_}", mapping=fields)
    pipe.hincrby("deliveries:count", state, 1)
    pipe.execute()


def get(r: redis.Redis, delivery_id_: str) -> Delivery | None:
    raw = r.hgetall(f"delivery:{delivery_id_}")
    return _delivery(raw, delivery_id_) if raw else None


def get_many(r: redis.Redis, ids: list[str]) -> list[Delivery]:
    pipe = r.pipeline(transaction=False)
    for did in ids:
        pipe.hgetall(f"delivery:{did}")
    return [_delivery(raw, did) for raw, did in zip(pipe.execute(), ids, strict=True) if raw]


def of_story(r: redis.Redis, story_id: str) -> list[Delivery]:
    return get_many(r, r.lrange(f"story:{story_id}:deliveries", 0, -1))


def recent(r: redis.Redis, limit: int = 1000) -> list[Delivery]:
    return get_many(r, r.lrange("deliveries:recent", 0, limit - 1))


# ARGV: the id, now. Only a delivery that ended badly goes back in line; returns its state before.
RETRY_LUA = """
local key = 'delivery:' .. ARGV[1]
local state = redis.call('HGET', key, 'state')
if not state then return false end
if state == 'failed' or state == 'dropped' then
  redis.call('HSET', key, 'state', 'retrying', 'next_at', ARGV[2], 'created', ARGV[2], 'updated', ARGV[2])
  redis.call('HDEL', key, 'first_try')  -- the age clock of NOTIFIER_DELIVERY_MAX_AGE starts again
  redis.call('ZADD', 'deliveries:due', ARGV[2], ARGV[1])
  redis.call('HINCRBY', 'deliveries:count', 'retrying', 1)
end
return state
"""


def retry_by_hand(r: redis.Redis, delivery_id_: str, now: float | None = None) -> str | None:
    """Send a failed or dropped delivery again, now: its state before (None: no such delivery).

    Any other state is left alone; its caller says why. A manual retry restarts the age clock,
    so the alert is not dropped again at once as too old."""
    return r.register_script(RETRY_LUA)(args=[delivery_id_, now or time.time()])


def summary(r: redis.Redis) -> dict:
    """What the ledger has done: outcomes counted, alerts waiting, targets that keep failing."""
    pipe = r.pipeline(transaction=False)
    pipe.hgetall("deliveries:count")
    pipe.zcard("deliveries:due")
    pipe.hgetall("failing:urls")
    counts, waiting, failing = pipe.execute()
    return {
        "counts": {k: int(v) for k, v in counts.items()},
        "waiting": waiting,
        "failing_urls": {k: int(v) for k, v in failing.items()},
    }


def _delivery(raw: dict, delivery_id_: str) -> Delivery:
    values: dict = {"id": raw.get("id") or delivery_id_}
    for key in ("story", "subscriber", "url_hash", "target", "state"):
        values[key] = raw.get(key, "")
    values["attempts"] = int(raw.get("attempts") or 0)
    values["last_error"] = raw.get("last_error") or None
    values["created"] = float(raw.get("created") or 0)
    values["updated"] = float(raw.get("updated") or raw.get("created") or 0)
    values["next_at"] = float(raw["next_at"]) if raw.get("next_at") else None
    values["resent"] = int(raw.get("resent") or 0)
    values["note"] = raw.get("note") or None
    values["first_try"] = float(raw["first_try"]) if raw.get("first_try") else None
    values["outages"] = int(raw.get("outages") or 0)
    values["digest"] = raw.get("digest") or None
    return Delivery(**values)
