-- Place a poll's stories in same-event clusters: look up, decide and write in one atomic call.
-- The rule is the one notifier/stories/cluster.py describes; cluster_index.py lists the keys.
--
-- ARGV: now, ttl, window, span, threshold, min_shared, per_term, candidates, postings_max,
--       indexed_terms, prior_stories, title_weight, short_weight, baseline (1/0), feed,
--       then per story: id, event time, query count, title terms, summary terms, short terms
--       (terms space-separated; the first `query count` of title + summary are looked up).
-- Returns, per story placed by this call: {id, cluster, start, joined, score, why}.

local now, ttl, window, span = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local threshold, min_shared = tonumber(ARGV[5]), tonumber(ARGV[6])
local per_term, most, postings_max = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local indexed, prior = tonumber(ARGV[10]), tonumber(ARGV[11])
local title_weight, short_weight = tonumber(ARGV[12]), tonumber(ARGV[13])
local baseline, feed = ARGV[14] == '1', ARGV[15]
local shorts = {} -- short words (mostly grammar) count less and do not count as shared

local function words(text)
  local out = {}
  for w in string.gmatch(text, '%S+') do out[#out + 1] = w end
  return out
end

local function doc_of(id, record)
  local f = {}
  for v in string.gmatch(record .. '\t', '([^\t]*)\t') do f[#f + 1] = v end
  for _, w in ipairs(words(f[12] or '')) do shorts[w] = true end
  return {id = id, t = tonumber(f[1]), cluster = f[2], start = tonumber(f[3]),
    title = words(f[5]), body = words(f[6])}
end

-- A placed story's record never changes, and a poll's stories share most of their candidates:
-- each is read and parsed once per call.
local docs = {}
local function placed_doc(id)
  if docs[id] == nil then
    local record = redis.call('GET', 'cl:doc:' .. id)
    if not record then return nil end
    docs[id] = doc_of(id, record)
  end
  return docs[id]
end

-- The newest stories within the window under each query term; most shared terms first.
local function candidates(doc, query)
  local hits, order = {}, {}
  for _, term in ipairs(query) do
    local ids = redis.call('ZREVRANGEBYSCORE', 'cl:post:' .. term, doc.t + window, doc.t - window,
      'LIMIT', 0, per_term)
    for _, id in ipairs(ids) do
      if id ~= doc.id then
        if not hits[id] then hits[id] = 0; order[#order + 1] = id end
        hits[id] = hits[id] + 1
      end
    end
  end
  local rank = {}
  for n, id in ipairs(order) do rank[id] = n end -- ties: the newest under the first term first
  table.sort(order, function(a, b) return hits[a] > hits[b] or (hits[a] == hits[b] and rank[a] < rank[b]) end)
  local out = {}
  for n = 1, math.min(#order, most) do
    local doc = placed_doc(order[n])
    if doc then out[#out + 1] = doc end
  end
  return out
end

-- Term -> stories of day `d` carrying it ('' -> the stories of that day), for the terms in `list`.
-- The counts are final before any story is placed (the poll's are added first), so each term of
-- each day is read once per call.
local per_day = {}
local function day_counts(d, list)
  local counts = per_day[d] or {}
  per_day[d] = counts
  local ask = {}
  for n = 1, #list do if counts[list[n]] == nil then ask[#ask + 1] = list[n] end end
  if #ask > 0 or counts[''] == nil then
    local got = redis.call('HMGET', 'cl:df:' .. d, '', unpack(ask))
    counts[''] = tonumber(got[1]) or 0
    for n = 1, #ask do counts[ask[n]] = tonumber(got[n + 1]) or 0 end
  end
  return counts
end

-- Stories of the event's days carrying each term (this poll's counted), and the stories counted.
local function frequencies(doc, others)
  local list, have = {}, {}
  for _, d in ipairs({doc, unpack(others)}) do
    for _, part in ipairs({d.title, d.body}) do
      for _, term in ipairs(part) do
        if not have[term] then have[term] = true; list[#list + 1] = term end
      end
    end
  end
  local df, stories, day = {}, 0, math.floor(doc.t / 86400)
  for n = 1, #list do df[list[n]] = 0 end
  for d = day - 1, day + 1 do
    local counts = day_counts(d, list)
    stories = stories + counts['']
    for n = 1, #list do df[list[n]] = df[list[n]] + counts[list[n]] end
  end
  return df, math.max(stories, prior)
end

-- Weighted terms scaled to length 1: rarity (idf) times title and short-word factors.
local function vector(d, df, stories)
  local w, norm = {}, 0
  for part, list in ipairs({d.title, d.body}) do
    for _, term in ipairs(list) do
      if w[term] == nil then
        local x = math.max(0.1, math.log((stories + 1) / (df[term] + 0.5)))
        if part == 1 then x = x * title_weight end
        if shorts[term] then x = x * short_weight end
        w[term] = x; norm = norm + x * x
      end
    end
  end
  norm = math.sqrt(norm)
  if norm > 0 then for term, x in pairs(w) do w[term] = x / norm end end
  return w
end

local function cosine(a, b)
  local sum, common = 0, 0
  for term, x in pairs(a) do
    if b[term] then sum = sum + x * b[term]; common = common + (shorts[term] and 0 or 1) end
  end
  return sum, common
end

-- Likeness that counts only with min_shared words in common: two make a topic, not an event.
local function alike(a, b)
  local sum, common = cosine(a, b)
  return common < min_shared and 0 or sum
end

local function heaviest(pairs_list, count)
  table.sort(pairs_list, function(a, b) return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2]) end)
  local out = {}
  for n = 1, math.min(count, #pairs_list) do out[n] = pairs_list[n][2] end
  return out
end

-- The best likeness to a cluster's summed member terms, and that cluster's closest member. A
-- cluster of one eligible member scores as that member did, below the threshold: skipped.
local function most_alike_cluster(vec, eligible, vectors)
  local sums, ids, size = {}, {}, {}
  for _, o in ipairs(eligible) do
    if not sums[o.cluster] then sums[o.cluster] = {}; ids[#ids + 1] = o.cluster; size[o.cluster] = 0 end
    size[o.cluster] = size[o.cluster] + 1
    for term, x in pairs(vectors[o.id]) do sums[o.cluster][term] = (sums[o.cluster][term] or 0) + x end
  end
  table.sort(ids)
  local score, cluster = 0, nil
  for _, cid in ipairs(ids) do
    if size[cid] > 1 then
      local norm = 0
      for _, x in pairs(sums[cid]) do norm = norm + x * x end
      local s = alike(vec, sums[cid]) / math.sqrt(norm)
      if s > score then score, cluster = s, cid end
    end
  end
  local closest, near = nil, -1
  for _, o in ipairs(eligible) do
    local c = o.cluster == cluster and cosine(vec, vectors[o.id]) or -1
    if c > near then closest, near = o, c end
  end
  return score, closest
end

-- Candidates that could join: their cluster is open to the story (started within the span) and
-- its candidate members share at least min_shared words with the story. The others would score
-- 0, so their terms are never weighed.
local function eligible(doc, others)
  local mine, shared, out = {}, {}, {}
  for _, part in ipairs({doc.title, doc.body}) do
    for _, term in ipairs(part) do if not shorts[term] then mine[term] = true end end
  end
  for _, o in ipairs(others) do
    local seen = shared[o.cluster] or {n = 0}
    shared[o.cluster] = seen
    for _, part in ipairs({o.title, o.body}) do
      for _, term in ipairs(part) do
        if mine[term] and not seen[term] then seen[term] = true; seen.n = seen.n + 1 end
      end
    end
  end
  for _, o in ipairs(others) do
    if shared[o.cluster].n >= min_shared and math.abs(doc.t - o.start) <= span then out[#out + 1] = o end
  end
  return out
end

-- A candidate's weights depend only on the day they are weighed for (its term counts, final
-- while placing): a candidate of many of the poll's stories is weighed once per day.
local weighed = {}
local function weights(o, df, stories, day)
  local key = day .. ' ' .. o.id
  if not weighed[key] then weighed[key] = vector(o, df, stories) end
  return weighed[key]
end

local function decide(doc, others, df, stories)
  local vec, vectors, day = vector(doc, df, stories), {}, math.floor(doc.t / 86400)
  for _, o in ipairs(others) do vectors[o.id] = weights(o, df, stories, day) end
  local score, best = 0, nil
  for _, o in ipairs(others) do
    local s = alike(vec, vectors[o.id])
    if s > score or (s == score and best and o.id > best.id) then score, best = s, o end
  end
  if best == nil or score < threshold then
    -- a story can be about the event without being close to any one report of it
    score, best = most_alike_cluster(vec, others, vectors)
    if best == nil or score < threshold then return vec, nil, 0, {} end
  end
  local common = {}
  for term, x in pairs(vec) do
    if vectors[best.id][term] then common[#common + 1] = {x * vectors[best.id][term], term} end
  end
  return vec, best, score, heaviest(common, 6)
end

local function write(doc, vec, cluster, start, joined, score, why, short)
  local record = table.concat({doc.t, cluster, start, feed, table.concat(doc.title, ' '),
    table.concat(doc.body, ' '), joined, string.format('%.3f', score), table.concat(why, ' '),
    now, baseline and '1' or '0', short}, '\t')
  redis.call('SET', 'cl:doc:' .. doc.id, record, 'EX', ttl)
  local ranked = {}
  for term, x in pairs(vec) do ranked[#ranked + 1] = {x, term} end
  for _, term in ipairs(heaviest(ranked, indexed)) do
    local key = 'cl:post:' .. term
    redis.call('ZADD', key, doc.t, doc.id)
    if redis.call('ZCARD', key) > postings_max then redis.call('ZREMRANGEBYRANK', key, 0, 0) end
    redis.call('EXPIRE', key, ttl)
  end
  redis.call('HSETNX', 'cl:c:' .. cluster, 'start', start)
  redis.call('HSETNX', 'cl:c:' .. cluster, 'first', doc.id)
  if baseline then redis.call('HSET', 'cl:c:' .. cluster, 'baseline', '1') end
  redis.call('ZADD', 'cl:m:' .. cluster, doc.t, doc.id)
  if redis.call('HSETNX', 'cl:o:' .. cluster, feed, now) == 1 then
    -- an outlet more may be what a --min-sources topic waits for: fan its story out again
    for _, waiting in ipairs(redis.call('SMEMBERS', 'cl:wait:' .. cluster)) do
      redis.call('ZADD', 'stories:pending', now, waiting)
    end
    redis.call('DEL', 'cl:wait:' .. cluster)
  end
  for _, key in ipairs({'cl:c:', 'cl:m:', 'cl:o:', 'cl:told:'}) do
    redis.call('EXPIRE', key .. cluster, ttl)
  end
end

-- The poll's new stories, counted in the document frequencies before any is weighed: a word the
-- whole poll carries is a common word, whichever story comes first.
local fresh, i = {}, 16
while i <= #ARGV do
  local doc = {id = ARGV[i], t = tonumber(ARGV[i + 1]), asked = tonumber(ARGV[i + 2]),
    title = words(ARGV[i + 3]), body = words(ARGV[i + 4]), short = ARGV[i + 5]}
  i = i + 6
  for _, w in ipairs(words(doc.short)) do shorts[w] = true end
  -- placed already, or a copy whose identity another story claimed: left alone
  if redis.call('EXISTS', 'cl:doc:' .. doc.id) == 0 and redis.call('EXISTS', 'story:' .. doc.id) == 1 then
    fresh[#fresh + 1] = doc
    local df = 'cl:df:' .. math.floor(doc.t / 86400)
    redis.call('HINCRBY', df, '', 1)
    for _, part in ipairs({doc.title, doc.body}) do
      for _, term in ipairs(part) do redis.call('HINCRBY', df, term, 1) end
    end
    redis.call('EXPIRE', df, ttl)
  end
end

local placed = {}
for _, doc in ipairs(fresh) do
  local query = {}
  for _, part in ipairs({doc.title, doc.body}) do
    for _, term in ipairs(part) do if #query < doc.asked then query[#query + 1] = term end end
  end
  local others = eligible(doc, candidates(doc, query))
  local df, stories = frequencies(doc, others)
  local vec, best, score, why = decide(doc, others, df, stories)
  local cluster, start, joined = doc.id, doc.t, ''
  if best then cluster, start, joined = best.cluster, best.start, best.id end
  write(doc, vec, cluster, start, joined, score, why, doc.short)
  placed[#placed + 1] = {doc.id, cluster, tostring(start), joined, string.format('%.6f', score),
    table.concat(why, ' ')}
end
return placed
