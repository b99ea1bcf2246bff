--[[
  expireHolds: expire held orders whose hold has passed and return their stock.

  The caller picks candidates from the holds zset (a read, outside the script); this script
  decides with Redis TIME and re-checks each order, so any number of gateways may sweep the same
  sale at once: an order is released exactly once. Orders no longer held (paying, paid, ended)
  are only dropped from the zset.

  KEYS[1] sale hash        rg:{s:<saleId>}:sale
  KEYS[2] per-buyer units  rg:{s:<saleId>}:users
  KEYS[3] hold deadlines   rg:{s:<saleId>}:holds
  KEYS[4..n] order hashes  rg:{s:<saleId>}:o:<orderId>, in the order of ARGV

  ARGV[1..n-3] orderIds, matching KEYS[4..n]

  Returns { 0 OK, number of orders expired }
]]
local rcall = redis.call
-- @include now
-- @include releaseHold
-- @include retire
local saleKey, usersKey, holdsKey = KEYS[1], KEYS[2], KEYS[3]

local nowMs = redisNowMs()
local ttlMs = recordTtlMs(saleKey)
local expired = 0
for i = 4, #KEYS do
  local orderKey, orderId = KEYS[i], ARGV[i - 3]
  local o = rcall('HMGET', orderKey, 'userId', 'status', 'expiresAt', 'quantity')
  local userId, status, expiresAt, quantity = o[1], o[2], tonumber(o[3]), tonumber(o[4])
  if status == 'held' then
    if nowMs >= expiresAt then
      releaseHold(saleKey, usersKey, userId, quantity)
      rcall('ZREM', holdsKey, orderId)
      rcall('HSET', orderKey, 'status', 'expired', 'tok', '', 'endedAt', nowMs)
      rcall('PEXPIRE', orderKey, ttlMs)
      expired = expired + 1
    end
  else
    rcall('ZREM', holdsKey, orderId)
  end
end
return { 0, expired }
