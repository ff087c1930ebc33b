"""Where same-event clusters live in Redis, read and written in one call each per poll.

Keys (every one expires with the window; a busy key's expiry is pushed on with each write):
  cl:doc:{story}    one placed story: event time, cluster, cluster start, feed, terms, why (tab-separated)
  cl:post:{term}    sorted set story -> event time: the stories a term is among the strongest of,
                    capped to the newest POSTINGS_MAX
  cl:df:{day}       hash term -> stories of that (event) day carrying it; field "" counts the stories
  cl:c:{cluster}    hash: start (event time of its first story), first (that story), baseline
  cl:m:{cluster}    sorted set member story -> event time
  cl:o:{cluster}    hash outlet (feed id) -> when its first story of the cluster arrived
  cl:wait:{cluster} set of stories whose topics wait for more outlets (`--min-sources`)

`lookup` reads, for a whole poll, each story's candidates (the newest stories within the window
under its strongest terms), their records and the document frequencies to weigh terms by. The
decision is made in Python; `commit` writes it atomically, but only if no candidate list changed
since the lookup: two workers placing two outlets' copies of one event at the same moment cannot
both start a cluster. A changed list is a conflict, and the caller looks up again.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from notifier.stories import terms

POSTINGS_MAX = 1000
PER_TERM = 20  # newest stories read per term; a term busier than this is not what finds an event
CANDIDATES_MAX = 16  # per story, those sharing the most strong terms first

# Shared by both scripts: the candidates of one story, and a digest of what they were drawn from.
_CANDIDATES = """
local function candidates(sid, t, window, per_term, first, count)
  local hits, order, all = {}, {}, {}
  for q = first, first + count - 1 do
    local ids = redis.call('ZREVRANGEBYSCORE', 'cl:post:' .. ARGV[q], t + window, t - window,
      'LIMIT', 0, per_term)
    for rank, id in ipairs(ids) do
      table.insert(all, id)
      if id ~= sid then
        if not hits[id] then hits[id] = 0; table.insert(order, id) end
        hits[id] = hits[id] + 1
      end
    end
  end
  local seen = {}
  for n, id in ipairs(order) do seen[id] = n end
  table.sort(order, function(a, b)
    if hits[a] ~= hits[b] then return hits[a] > hits[b] end
    return seen[a] < seen[b]
  end)
  return order, redis.sha1hex(table.concat(all, ','))
end
"""

# ARGV: window, per_term, max candidates, then per story: id, event time, day, n, n query terms,
# m, m terms. Returns the stories' answers, then the candidates' records (id, record, ...).
LOOKUP_LUA = (
    _CANDIDATES
    + """
local window, per_term, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local records, listed, answers = {}, {}, {}
local i = 4
while i <= #ARGV do
  local sid, t, day, nq = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local state = 0
  if redis.call('EXISTS', 'cl:doc:' .. sid) == 1 then state = 1
  elseif redis.call('EXISTS', 'story:' .. sid) == 0 then state = 2 end  -- a copy claimed by another
  local order, digest = candidates(sid, t, window, per_term, i + 4, nq)
  i = i + 4 + nq
  local nt = tonumber(ARGV[i])
  local terms, have = {}, {}
  for k = i + 1, i + nt do table.insert(terms, ARGV[k]); have[ARGV[k]] = true end
  i = i + 1 + nt
  local chosen = {}
  for n = 1, math.min(#order, most) do
    local id = order[n]
    if records[id] == nil then
      records[id] = redis.call('GET', 'cl:doc:' .. id) or false
      if records[id] then table.insert(listed, id); table.insert(listed, records[id]) end
    end
    if records[id] then
      table.insert(chosen, id)
      local field = 0
      for value in string.gmatch(records[id] .. '\\t', '([^\\t]*)\\t') do
        field = field + 1
        if field == 5 or field == 6 then
          for term in string.gmatch(value, '%S+') do
            if not have[term] then have[term] = true; table.insert(terms, term) end
          end
        end
      end
    end
  end
  local counts, stories = {}, 0
  for k = 1, #terms do counts[k] = 0 end
  for d = day - 1, day + 1 do
    local got = redis.call('HMGET', 'cl:df:' .. d, '', unpack(terms))
    stories = stories + (tonumber(got[1]) or 0)
    for k = 1, #terms do counts[k] = counts[k] + (tonumber(got[k + 1]) or 0) end
  end
  table.insert(answers, {state, chosen, terms, counts, stories, digest})
end
return {answers, listed}
"""
)

# ARGV: now, ttl, window, per_term, postings kept per term, then per story: id, event time, day,
# cluster, cluster start, feed, record, baseline (1/0), digest, n, n query terms, p, p posting
# terms, d, d terms.
# Returns 'conflict', or the ids of the stories placed by this call.
COMMIT_LUA = (
    _CANDIDATES
    + """
local now, ttl, window, per_term = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local postings_max, stories, i = tonumber(ARGV[5]), {}, 6
while i <= #ARGV do
  local s = {sid = ARGV[i], t = tonumber(ARGV[i + 1]), day = ARGV[i + 2], cluster = ARGV[i + 3],
    start = ARGV[i + 4], feed = ARGV[i + 5], record = ARGV[i + 6], baseline = ARGV[i + 7] == '1'}
  local nq = tonumber(ARGV[i + 9])
  local _, digest = candidates(s.sid, s.t, window, per_term, i + 10, nq)
  if digest ~= ARGV[i + 8] then return 'conflict' end
  i = i + 10 + nq
  s.posts = {unpack(ARGV, i + 1, i + tonumber(ARGV[i]))}
  i = i + 1 + tonumber(ARGV[i])
  s.terms = {unpack(ARGV, i + 1, i + tonumber(ARGV[i]))}
  i = i + 1 + tonumber(ARGV[i])
  table.insert(stories, s)
end
local placed = {}
for _, s in ipairs(stories) do
  if redis.call('SET', 'cl:doc:' .. s.sid, s.record, 'NX', 'EX', ttl) then
    for _, term in ipairs(s.posts) do
      local key = 'cl:post:' .. term
      redis.call('ZADD', key, s.t, s.sid)
      if redis.call('ZCARD', key) > postings_max then redis.call('ZREMRANGEBYRANK', key, 0, 0) end
      redis.call('EXPIRE', key, ttl)
    end
    local df = 'cl:df:' .. s.day
    redis.call('HINCRBY', df, '', 1)
    for _, term in ipairs(s.terms) do redis.call('HINCRBY', df, term, 1) end
    redis.call('EXPIRE', df, ttl)
    local c = s.cluster
    redis.call('HSETNX', 'cl:c:' .. c, 'start', s.start)
    redis.call('HSETNX', 'cl:c:' .. c, 'first', s.sid)
    if s.baseline then redis.call('HSET', 'cl:c:' .. c, 'baseline', '1') end
    redis.call('ZADD', 'cl:m:' .. c, s.t, s.sid)
    local new_outlet = redis.call('HSETNX', 'cl:o:' .. c, s.feed, now) == 1
    if new_outlet then
      -- an outlet more may be what a --min-sources topic waits for: fan its story out again
      for _, waiting in ipairs(redis.call('SMEMBERS', 'cl:wait:' .. c)) do
        redis.call('ZADD', 'stories:pending', now, waiting)
      end
      redis.call('DEL', 'cl:wait:' .. c)
    end
    for _, key in ipairs({'cl:c:', 'cl:m:', 'cl:o:', 'cl:told:'}) do redis.call('EXPIRE', key .. c, ttl) end
    table.insert(placed, s.sid)
  end
end
return placed
"""
)


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

    def record(self) -> str:
        fields = [int(self.t), self.cluster, int(self.start), self.feed, " ".join(self.terms.title)]
        fields += [" ".join(self.terms.body), self.joined, f"{self.score:.3f}", " ".join(self.why)]
        return "\t".join(map(str, [*fields, int(self.seen), int(self.baseline)]))


def decode(story_id: str, record: str) -> Doc:
    t, cid, start, feed, title, body, joined, score, why, seen, baseline = record.split("\t")
    words = terms.Terms(tuple(title.split()), tuple(body.split()))
    found = (joined, float(score), tuple(why.split()), float(seen), baseline == "1")
    return Doc(story_id, float(t), cid, float(start), feed, words, *found)


def lookup(r: redis.Redis, queries: list[tuple], window: int) -> tuple[list, dict[str, str]]:
    """queries: (story id, event time, day, query terms, terms) per story. Returns each story's
    (state, candidate ids, terms, their frequencies, stories counted, digest) and the records."""
    args: list = [window, PER_TERM, CANDIDATES_MAX]
    for sid, t, day, query, words in queries:
        args += [sid, int(t), day, len(query), *query, len(words), *words]
    answers, listed = r.register_script(LOOKUP_LUA)(args=args)
    return answers, dict(zip(listed[::2], listed[1::2], strict=True))


def commit(r: redis.Redis, writes: list[tuple], *, now: float, ttl: int, window: int) -> list[str] | None:
    """writes: (story, event time, day, cluster, start, feed, record, baseline, digest, query terms,
    posting terms, terms). The ids placed, or None on a conflict (nothing was written)."""
    args: list = [int(now), ttl, window, PER_TERM, POSTINGS_MAX]
    for sid, t, day, cid, start, feed, record, baseline, digest, query, posts, words in writes:
        args += [sid, int(t), day, cid, int(start), feed, record, int(baseline), digest]
        args += [len(query), *query, len(posts), *posts, len(words), *words]
    placed = r.register_script(COMMIT_LUA)(args=args)
    return None if placed == "conflict" else list(placed)
