--[[
  countRefusals: add buyers' recent rate-limit refusals to their tallies; a buyer refused
  `threshold` times within `windowMs` is blocked for `blockMs` (automatic blocking).

  Tallies are flushed here by each gateway every half second, so a refused request itself never
  waits on Redis. Each tally is "<window start ms>|<count>" and starts over when its window ends.

  KEYS[1] refusal tallies  rg:{block}:refusals  (hash userId -> "start|count")
  KEYS[2] blocklist        rg:{block}:users     (zset userId -> blocked until, ms)
  KEYS[3] block reasons    rg:{block}:reasons   (hash userId -> reason)
  ARGV[1] threshold  ARGV[2] windowMs  ARGV[3] blockMs
  ARGV[4..] userId, refusals, userId, refusals, ...

  Returns { 0 OK, { userIds blocked now } }
]]
local rcall = redis.call
local talliesKey, blocklistKey, reasonsKey = KEYS[1], KEYS[2], KEYS[3]
local threshold, windowMs, blockMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = rcall('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local blocked = {}
for i = 4, #ARGV, 2 do
  local userId, refusals = ARGV[i], tonumber(ARGV[i + 1])
  local start, count = nowMs, 0
  local tally = rcall('HGET', talliesKey, userId)
  if tally then
    local s, c = string.match(tally, '^(%d+)|(%d+)$')
    if s and nowMs - tonumber(s) < windowMs then start, count = tonumber(s), tonumber(c) end
  end
  count = count + refusals
  if count >= threshold then
    rcall('ZADD', blocklistKey, nowMs + blockMs, userId)
    rcall('HSET', reasonsKey, userId, 'automatic: ' .. count .. ' refusals within ' .. (windowMs / 1000) .. ' s')
    rcall('HDEL', talliesKey, userId)
    blocked[#blocked + 1] = userId
  else
    rcall('HSET', talliesKey, userId, start .. '|' .. count)
  end
end
return { 0, blocked }
