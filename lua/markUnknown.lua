--[[
  markUnknown: a channel gave no answer for a payment (a timeout): it is `unknown`, never assumed
  failed, and scheduled for a status query. The order keeps waiting on it (still paying).

  KEYS[1] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2] order    rg:{s:<saleId>}:o:<orderId>
  KEYS[3] unknown  rg:{s:<saleId>}:unknown  (zset paymentId -> next check, ms)

  ARGV[1] paymentId
  ARGV[2] nextCheckMs

  Returns { 0 OK, payment status after }
]]
local rcall = redis.call
local paymentKey, orderKey, unknownKey = KEYS[1], KEYS[2], KEYS[3]
local paymentId, checkAtMs = ARGV[1], ARGV[2]
local status = rcall('HGET', paymentKey, 'status')
if status == 'processing' then
  status = 'unknown'
  rcall('HSET', paymentKey, 'status', 'unknown')
  if rcall('HGET', orderKey, 'pid') == paymentId then rcall('HSET', orderKey, 'pstatus', 'unknown') end
end
if status == 'unknown' then rcall('ZADD', unknownKey, checkAtMs, paymentId) end
return { 0, status }
