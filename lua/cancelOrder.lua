--[[
  cancelOrder: cancel a held order and release its stock.

  Idempotent: an order already cancelled or expired is answered unchanged. A held order whose
  hold has passed is expired here (as the sweep would), not cancelled.

  KEYS[1] order  rg:{s:<saleId>}:o:<orderId>
  KEYS[2] sale   rg:{s:<saleId>}:sale
  KEYS[3] users  rg:{s:<saleId>}:users  per-buyer units
  KEYS[4] holds  rg:{s:<saleId>}:holds  hold deadlines

  ARGV[1] orderId
  ARGV[2] userId   the caller; another buyer's order is not found

  Returns
    { 0 OK, order fields as HGETALL, nowMs }
    { 20 NOT_FOUND }  { 22 PAYMENT_PENDING, paymentId }  { 23 ORDER_PAID }
]]
local rcall = redis.call
-- @include now
-- @include releaseHold
-- @include retire
local orderKey, saleKey, usersKey, holdsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local orderId, userId = ARGV[1], ARGV[2]

local o = rcall('HMGET', orderKey, 'userId', 'status', 'expiresAt', 'quantity', 'pid')
if o[1] ~= userId then return { 20 } end
local status, expiresAt, quantity, pid = o[2], tonumber(o[3]), tonumber(o[4]), o[5]
if status == 'paying' then return { 22, pid } end
if status == 'paid' then return { 23 } end

local nowMs = redisNowMs()
if status == 'held' then
  local ended = 'cancelled'
  if nowMs >= expiresAt then ended = 'expired' end
  releaseHold(saleKey, usersKey, userId, quantity)
  rcall('ZREM', holdsKey, orderId)
  rcall('HSET', orderKey, 'status', ended, 'tok', '', 'endedAt', nowMs)
  rcall('PEXPIRE', orderKey, recordTtlMs(saleKey))
end
return { 0, rcall('HGETALL', orderKey), nowMs }
