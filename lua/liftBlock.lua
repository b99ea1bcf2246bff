--[[
  liftBlock: lift a buyer's or an address's block and drop its reason, in one step (an ops
  write: DELETE /admin/blocklist/...). Lifting a block that is not in place changes nothing.

  KEYS[1] blocked  rg:{block}:users | rg:{block}:addresses  (zset id -> blocked until, ms)
  KEYS[2] reasons  rg:{block}:reasons | rg:{block}:addressReasons  (hash id -> reason)

  ARGV[1] id  the userId, or the address in the one form the gateway compares

  Returns { 0 OK, 1 if a block was lifted else 0 }
]]
local rcall = redis.call
local blockedKey, reasonsKey = KEYS[1], KEYS[2]
local id = ARGV[1]
local lifted = rcall('ZREM', blockedKey, id)
rcall('HDEL', reasonsKey, id)
return { 0, lifted }
