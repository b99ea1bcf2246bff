--[[
  refundOversold: the ledger refunded one of an oversold sale's latest charges (the documented
  rule); Redis shows it. The payment becomes `refunded`; its order, when this payment paid it,
  is `cancelled` and its units leave sold and its buyer's count. The sale's oversell record
  (charges and seats seen, when detected, refunds made) is written for the ops view.
  Idempotent: a payment already refunded changes nothing.

  KEYS[1] sale      rg:{s:<saleId>}:sale
  KEYS[2] users     rg:{s:<saleId>}:users
  KEYS[3] order     rg:{s:<saleId>}:o:<orderId>
  KEYS[4] payment   rg:{s:<saleId>}:p:<paymentId>
  KEYS[5] oversell  rg:{s:<saleId>}:oversell

  ARGV[1] paymentId
  ARGV[2] charges   units the ledger kept charged when detected
  ARGV[3] seats     the sale's stock

  Returns { 0 OK, 1 if refunded now else 0 }
]]
local rcall = redis.call
-- @include now
-- @include retire
local saleKey, usersKey, orderKey, paymentKey, oversellKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local paymentId = ARGV[1]
local nowMs = redisNowMs()
if rcall('HSETNX', oversellKey, 'detectedAt', nowMs) == 1 then
  rcall('HSET', oversellKey, 'refunded', 0)
end
rcall('HSET', oversellKey, 'charges', ARGV[2], 'seats', ARGV[3])
if rcall('HGET', paymentKey, 'status') == 'refunded' then return { 0, 0 } end
rcall('HSET', paymentKey, 'status', 'refunded', 'failureCode', 'oversold', 'settledAt', nowMs)
rcall('HINCRBY', oversellKey, 'refunded', 1)
local o = rcall('HMGET', orderKey, 'status', 'pid', 'quantity', 'userId')
if o[1] == 'paid' and o[2] == paymentId then
  local quantity = tonumber(o[3])
  rcall('HINCRBY', saleKey, 'sold', -quantity)
  rcall('HINCRBY', usersKey, o[4], -quantity)
  rcall('HSET', orderKey, 'status', 'cancelled', 'pstatus', 'refunded', 'endedAt', nowMs)
  rcall('PEXPIRE', orderKey, recordTtlMs(saleKey))
end
rcall('PEXPIRE', paymentKey, recordTtlMs(saleKey))
return { 0, 1 }
