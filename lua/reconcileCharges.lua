--[[
  reconcileCharges: make Redis agree with the ledger (the truth) about charges it keeps.

  Each charge named here is retained in the ledger and not refunded: its payment is
  `succeeded` and its order `paid`, with the order's units counted sold. Redis may have lost
  either (an AOF that lost its last second, a failover to a replica that lagged): a missing
  payment or order is written again from the ledger's record; an order still held, paying,
  expired or cancelled becomes paid, its units moved to sold. Anything already in agreement is
  left alone, so the script is idempotent and safe to run from any number of processes.

  KEYS[1]     sale   rg:{s:<saleId>}:sale
  KEYS[2]     users  rg:{s:<saleId>}:users  per-buyer units
  KEYS[3]     holds  rg:{s:<saleId>}:holds  hold deadlines
  KEYS[4]     lanes  rg:{s:<saleId>}:lanes  lane counters
  KEYS[3+2k]  order k    rg:{s:<saleId>}:o:<orderId>
  KEYS[4+2k]  payment k  rg:{s:<saleId>}:p:<paymentId>
  ARGV[7k-6 .. 7k]  charge k: orderId, paymentId, userId, method, amount, currency, createdAtMs

  Returns { 0 OK, orders repaired, payments repaired }  { 10 SALE_NOT_FOUND }
]]
local rcall = redis.call
-- @include now
-- @include retire
local saleKey, usersKey, holdsKey, lanesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local price = tonumber(rcall('HGET', saleKey, 'price'))
if not price then return { 10 } end
local nowMs = redisNowMs()
local ttlMs = recordTtlMs(saleKey)
local ordersFixed, paymentsFixed = 0, 0
for k = 1, (#KEYS - 4) / 2 do
  local orderKey, paymentKey = KEYS[3 + 2 * k], KEYS[4 + 2 * k]
  local a = 7 * k - 6
  local orderId, paymentId, userId, method = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local amount, currency, createdAt = tonumber(ARGV[a + 4]), ARGV[a + 5], ARGV[a + 6]

  local p = rcall('HMGET', paymentKey, 'status', 'lane')
  if not p[1] then
    rcall('HSET', paymentKey, 'orderId', orderId, 'userId', userId, 'method', method,
      'amount', amount, 'currency', currency, 'status', 'succeeded', 'failureCode', '',
      'lane', 'standard', 'seq', 0, 'createdAt', createdAt, 'settledAt', nowMs, 'restored', '1')
    rcall('PEXPIRE', paymentKey, ttlMs)
    paymentsFixed = paymentsFixed + 1
  elseif p[1] ~= 'succeeded' then
    -- a queued payment's lane entry is still to be read: count it served now, so the positions
    -- behind it stay right (the worker finds it settled and only acknowledges it)
    if p[1] == 'queued' then rcall('HINCRBY', lanesKey, p[2] .. ':srv', 1) end
    rcall('HSET', paymentKey, 'status', 'succeeded', 'failureCode', '', 'settledAt', nowMs)
    rcall('PEXPIRE', paymentKey, ttlMs)
    paymentsFixed = paymentsFixed + 1
  end

  local o = rcall('HMGET', orderKey, 'status', 'quantity', 'userId')
  local ostatus, quantity, owner = o[1], tonumber(o[2]), o[3]
  if not ostatus then
    quantity = 1
    if price > 0 then quantity = math.max(1, math.floor(amount / price + 0.5)) end
    rcall('HSET', orderKey, 'userId', userId, 'quantity', quantity, 'amount', amount,
      'currency', currency, 'status', 'paid', 'expiresAt', createdAt, 'createdAt', createdAt,
      'tok', '', 'nonce0', '', 'pid', paymentId, 'pmethod', method, 'plane', 'standard',
      'ppos', 0, 'pstatus', 'succeeded', 'restored', '1')
    rcall('HINCRBY', saleKey, 'sold', quantity)
    rcall('HINCRBY', saleKey, 'orders', 1)
    rcall('HINCRBY', usersKey, userId, quantity)
    rcall('PEXPIRE', orderKey, ttlMs)
    ordersFixed = ordersFixed + 1
  elseif ostatus ~= 'paid' then
    if ostatus == 'held' or ostatus == 'paying' then
      rcall('HINCRBY', saleKey, 'held', -quantity)
      rcall('ZREM', holdsKey, orderId)
    else
      -- expired or cancelled: its units had gone back to the sale and out of its buyer's count
      rcall('HINCRBY', usersKey, owner, quantity)
      rcall('HDEL', orderKey, 'endedAt')
    end
    rcall('PEXPIRE', orderKey, ttlMs)
    rcall('HINCRBY', saleKey, 'sold', quantity)
    rcall('HSET', orderKey, 'status', 'paid', 'tok', '', 'pid', paymentId, 'pmethod', method,
      'pstatus', 'succeeded', 'restored', '1')
    ordersFixed = ordersFixed + 1
  end
end
return { 0, ordersFixed, paymentsFixed }
