--[[
  putBlock: block a buyer, or a network address, until Redis time + blockMs, with the reason ops
  gave, in one step (an ops write: PUT /admin/blocklist/...). A reader never sees the block
  without its reason, nor a reason left from a block that is not in place.

  A manual block replaces the block in place, longer or shorter (ops may shorten one), and its
  reason. A resend after a reconnect sets the same block from a later Redis time: harmless.

  KEYS[1] blocked  rg:{block}:users | rg:{block}:addresses  (zset id -> blocked until, ms)
  KEYS[2] reasons  rg:{block}:reasons | rg:{block}:addressReasons  (hash id -> reason)

  ARGV[1] id       the userId, or the address in the one form the gateway compares
  ARGV[2] blockMs  how long the block lasts from now (Redis time)
  ARGV[3] reason   what ops wrote ('' = none given)

  Returns { 0 OK, untilMs }
]]
local rcall = redis.call
-- @include now
local blockedKey, reasonsKey = KEYS[1], KEYS[2]
local id, blockMs, reason = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local untilMs = redisNowMs() + blockMs
rcall('ZADD', blockedKey, untilMs, id)
rcall('HSET', reasonsKey, id, reason)
return { 0, untilMs }
