--[[
  countRefusals: add buyers' recent rate-limit refusals to their tallies; a buyer refused
  `threshold` times within `windowMs` is blocked for `blockMs` (automatic blocking).

  Tallies are flushed here by each gateway every half second, so a refused request itself never
  waits on Redis. Each tally is its own key, expiring with its window (nothing to prune). An
  automatic block never shortens a longer one already in place (ZADD GT), nor replaces its reason.

  KEYS[1]      blocklist       rg:{block}:users    (zset userId -> blocked until, ms)
  KEYS[2]      block reasons   rg:{block}:reasons  (hash userId -> reason)
  KEYS[2+k]    tally of buyer k  rg:{block}:refusals:<userId>  (counter, expires with its window)
  ARGV[1] threshold  ARGV[2] windowMs  ARGV[3] blockMs
  ARGV[3+2k-1], ARGV[3+2k]  userId and refusals of buyer k

  Returns { 0 OK, { userIds blocked now } }
]]
local rcall = redis.call
-- @include now
local blocklistKey, reasonsKey = KEYS[1], KEYS[2]
local threshold, windowMs, blockMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local nowMs = redisNowMs()
local blocked = {}
for k = 1, #KEYS - 2 do
  local tallyKey, userId, refusals = KEYS[2 + k], ARGV[2 + 2 * k], tonumber(ARGV[3 + 2 * k])
  local count = rcall('INCRBY', tallyKey, refusals)
  if count == refusals then rcall('PEXPIRE', tallyKey, windowMs) end
  if count >= threshold then
    rcall('ZADD', blocklistKey, 'GT', nowMs + blockMs, userId)
    rcall('HSETNX', reasonsKey, userId, 'automatic: ' .. count .. ' refusals within ' .. (windowMs / 1000) .. ' s')
    rcall('DEL', tallyKey)
    blocked[#blocked + 1] = userId
  end
end
return { 0, blocked }
