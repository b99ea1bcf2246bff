--[[
  settlePayment: record a payment's final outcome on the payment and its order.

  Called only after the ledger has committed (succeeded, refunded) or the channel definitely
  refused (failed). Idempotent: a payment already settled is answered unchanged.
  succeeded -> order paid, its units move from held to sold.
  refunded  -> the ledger had already retained another charge for this order: this payment was
               refunded. The order is paid (by that other charge) if it was waiting on this one.
  failed    -> order held again (back in the holds zset), or expired with its stock released when
               its hold has passed meanwhile.

  KEYS[1] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2] order    rg:{s:<saleId>}:o:<orderId>
  KEYS[3] sale     rg:{s:<saleId>}:sale
  KEYS[4] users    rg:{s:<saleId>}:users  per-buyer units
  KEYS[5] holds    rg:{s:<saleId>}:holds  hold deadlines

  ARGV[1] paymentId
  ARGV[2] outcome      succeeded | refunded | failed
  ARGV[3] failureCode  ('' if none)

  Returns { 0 OK, payment status, order status }  { 20 NOT_FOUND }
]]
local rcall = redis.call
-- @include now
-- @include releaseHold
-- @include retire
local paymentKey, orderKey, saleKey, usersKey, holdsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local paymentId, outcome, failureCode = ARGV[1], ARGV[2], ARGV[3]

if outcome ~= 'succeeded' and outcome ~= 'refunded' and outcome ~= 'failed' then
  return redis.error_reply('settlePayment: unknown outcome ' .. tostring(outcome))
end
local p = rcall('HMGET', paymentKey, 'status', 'orderId')
local pstatus, orderId = p[1], p[2]
if not pstatus then return { 20 } end
local o = rcall('HMGET', orderKey, 'status', 'pid', 'userId', 'quantity', 'expiresAt')
local ostatus, pid, userId, quantity, expiresAt = o[1], o[2], o[3], tonumber(o[4]), tonumber(o[5])
-- a success that arrives after the payment was failed (the buyer paid later) was refunded by
-- the ledger: the payment shows it; the order has moved on and is left alone
if pstatus == 'failed' and outcome == 'refunded' then
  rcall('HSET', paymentKey, 'status', 'refunded')
  rcall('PEXPIRE', paymentKey, recordTtlMs(saleKey))
  return { 0, 'refunded', ostatus }
end
if pstatus == 'succeeded' or pstatus == 'failed' or pstatus == 'refunded' then
  return { 0, pstatus, ostatus }
end

local nowMs = redisNowMs()
rcall('HSET', paymentKey, 'status', outcome, 'failureCode', failureCode, 'settledAt', nowMs)
-- settled: kept for the record's TTL, then it expires (so does its order once ended)
local ttlMs = recordTtlMs(saleKey)
rcall('PEXPIRE', paymentKey, ttlMs)
if pid == paymentId and ostatus == 'paying' then
  if outcome == 'succeeded' or outcome == 'refunded' then
    ostatus = 'paid'
    rcall('HINCRBY', saleKey, 'held', -quantity)
    rcall('HINCRBY', saleKey, 'sold', quantity)
  elseif nowMs >= expiresAt then
    ostatus = 'expired'
    releaseHold(saleKey, usersKey, userId, quantity)
    rcall('HSET', orderKey, 'endedAt', nowMs)
  else
    ostatus = 'held'
    rcall('ZADD', holdsKey, expiresAt, orderId)
  end
  rcall('HSET', orderKey, 'status', ostatus, 'pstatus', outcome)
  if ostatus ~= 'held' then rcall('PEXPIRE', orderKey, ttlMs) end
end
return { 0, outcome, ostatus }
