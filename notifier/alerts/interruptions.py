"""A send whose worker died mid-way (its `sending` lease ran out) is sent again, a bounded number of times.

Nobody can know whether the first copy arrived, and a lost story is worse than a second copy,
so the alert goes out again with the same identity (the e-mail's Message-ID, the webhook's
Idempotency-Key and `delivery_id`, all made from the delivery id) for the receiver to drop the
copy. The step is a compare-and-set in Lua: of two sweepers that see the same dead lease, one acts.
A delivery interrupted more than MAX_INTERRUPTIONS times is likely what kills its worker: it fails.
"""

from __future__ import annotations

import time

import redis

MAX_INTERRUPTIONS = 3

# ARGV: the id, now, the bound, the lease in seconds.
# Returns 'resent', 'failed', or false when it was not ours to settle.
INTERRUPTED_LUA = """
local key = 'delivery:' .. ARGV[1]
if redis.call('HGET', key, 'state') ~= 'sending' then return false end
-- the lease runs from the start of the send (`updated`); the due set's score is moved by every tick
local started = tonumber(redis.call('HGET', key, 'updated') or '0')
if started + tonumber(ARGV[4]) > tonumber(ARGV[2]) then return false end
local n = redis.call('HINCRBY', key, 'resent', 1)
if n > tonumber(ARGV[3]) then
  local reason = 'interrupted during send ' .. n .. ' times; given up'
  redis.call('HSET', key, 'state', 'failed', 'updated', ARGV[2], 'last_error', reason, 'resent', n - 1)
  redis.call('ZREM', 'deliveries:due', ARGV[1])
  redis.call('HINCRBY', 'deliveries:count', 'failed', 1)
  return 'failed'
end
local note = 'resent after interruption (' .. n .. ' of ' .. ARGV[3] .. ')'
redis.call('HSET', key, 'state', 'retrying', 'next_at', ARGV[2], 'updated', ARGV[2],
  'last_error', note, 'note', note)
redis.call('ZADD', 'deliveries:due', ARGV[2], ARGV[1])
redis.call('HINCRBY', 'deliveries:count', 'resent', 1)
return 'resent'
"""


def settle(
    r: redis.Redis, delivery_id: str, lease: float, now: float | None = None, bound: int = MAX_INTERRUPTIONS
) -> str | None:
    """'resent' (due again now, same identity), 'failed' (interrupted too often), or None (not ours)."""
    return r.register_script(INTERRUPTED_LUA)(args=[delivery_id, now or time.time(), bound, lease]) or None
