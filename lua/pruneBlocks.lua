--[[
  pruneBlocks: drop blocks that have ended by Redis time, with their reasons, in one step, so
  neither the blocklist nor its reasons only grow (and automatic blocking, which never replaces
  a reason in place, writes a fresh one when it blocks the buyer again).

  At most `limit` blocks per call, so one call stays short however many ended; the caller calls
  again while a call drops `limit`. A block ending exactly now is dropped: it is no longer in
  force (the gateway reads blocks ending after now).

  KEYS[1] blocked  rg:{block}:users | rg:{block}:addresses  (zset id -> blocked until, ms)
  KEYS[2] reasons  rg:{block}:reasons | rg:{block}:addressReasons  (hash id -> reason)

  ARGV[1] limit  blocks dropped at most

  Returns { 0 OK, blocks dropped }
]]
local rcall = redis.call
-- @include now
local blockedKey, reasonsKey = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
local ended = rcall('ZRANGEBYSCORE', blockedKey, '-inf', redisNowMs(), 'LIMIT', 0, limit)
-- unpack takes a few thousand values at most: chunks
local CHUNK = 500
for i = 1, #ended, CHUNK do
  local chunk = { unpack(ended, i, math.min(i + CHUNK - 1, #ended)) }
  rcall('ZREM', blockedKey, unpack(chunk))
  rcall('HDEL', reasonsKey, unpack(chunk))
end
return { 0, #ended }
