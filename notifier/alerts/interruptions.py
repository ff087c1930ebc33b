"""A send whose worker died mid-way (its `sending` lease ran out) is sent again, a bounded number of times.

Nobody can know whether the first copy arrived, and a lost story is worse than a second copy,
so the alert goes out again with the same identity (the e-mail's Message-ID, the webhook's
Idempotency-Key and `delivery_id`, all made from the delivery id) for the receiver to drop the
copy. The step is a compare-and-set in Lua: of two sweepers that see the same dead lease, one acts.
A delivery interrupted more than MAX_INTERRUPTIONS times is likely what kills its worker: it fails.
A digest (held alerts sent as one message) goes back whole, to be sent again as the same digest.
"""

from __future__ import annotations

import time

import redis

MAX_INTERRUPTIONS = 3

# ARGV: the id, now, the bound, the lease in seconds.
# Returns 'resent', 'held' (a digest, due again as one), 'failed', or false when it was not ours to settle.
INTERRUPTED_LUA = """
local key = 'delivery:' .. ARGV[1]
if redis.call('HGET', key, 'state') ~= 'sending' then return false end
local now, bound, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- the lease runs from the start of the send (`updated`); the due set's score is moved by every tick
local function expired(k)
  return redis.call('HGET', k, 'state') == 'sending'
    and tonumber(redis.call('HGET', k, 'updated') or '0') + lease <= now
end
if not expired(key) then return false end
-- one alert goes back in line as `retrying`; the members of an interrupted digest go back `held`
-- together, so the next release sends the same digest again, with the same identity
local digest = redis.call('HGET', key, 'digest')
local ids, again = {ARGV[1]}, 'retrying'
if digest and digest ~= '' then
  again = 'held'
  local fields = redis.call('HMGET', key, 'subscriber', 'url_hash')
  for _, id in ipairs(redis.call('SMEMBERS', 'held:' .. fields[1] .. ':' .. fields[2])) do
    local k = 'delivery:' .. id
    if id ~= ARGV[1] and redis.call('HGET', k, 'digest') == digest and expired(k) then
      table.insert(ids, id)
    end
  end
end
local outcome = 'resent'
for _, id in ipairs(ids) do
  local k = 'delivery:' .. id
  local n = redis.call('HINCRBY', k, 'resent', 1)
  if n > bound then
    local reason = 'interrupted during send ' .. n .. ' times; given up'
    redis.call('HSET', k, 'state', 'failed', 'updated', ARGV[2], 'last_error', reason, 'resent', n - 1)
    redis.call('ZREM', 'deliveries:due', id)
    redis.call('HINCRBY', 'deliveries:count', 'failed', 1)
    outcome = 'failed'
  else
    local note = 'resent after interruption (' .. n .. ' of ' .. ARGV[3] .. ')'
    redis.call('HSET', k, 'state', again, 'next_at', ARGV[2], 'updated', ARGV[2],
      'last_error', note, 'note', note)
    redis.call('ZADD', 'deliveries:due', ARGV[2], id)
    redis.call('HINCRBY', 'deliveries:count', 'resent', 1)
    if again == 'held' then outcome = 'held' end
  end
end
return outcome
"""


def settle(
    r: redis.Redis, delivery_id: str, lease: float, now: float | None = None, bound: int = MAX_INTERRUPTIONS
) -> str | None:
    """'resent' (due again now, same identity), 'held' (a digest: its members due again now, as one),
    'failed' (interrupted too often), or None (not ours)."""
    return r.register_script(INTERRUPTED_LUA)(args=[delivery_id, now or time.time(), bound, lease]) or None
