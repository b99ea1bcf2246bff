--[[
  forgetUnknown: a payment in the re-query set needs no channel query now (it is settled, gone,
  or has no channel to ask): it leaves the re-query (unknown) and review sets. A payment a worker
  is still charging (processing) stays, to be looked at again recheckInMs from now: the worker's
  own outcome settles it, or makes it unknown.

  KEYS[1] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2] unknown  rg:{s:<saleId>}:unknown  (zset paymentId -> next check, ms)
  KEYS[3] review   rg:{s:<saleId>}:review   (zset paymentId -> ms when marked)

  ARGV[1] paymentId
  ARGV[2] recheckInMs  when a processing payment is looked at again

  Returns { 0 OK, 1 if forgotten, 0 if kept (still processing) }
]]
local rcall = redis.call
-- @include now
local paymentKey, unknownKey, reviewKey = KEYS[1], KEYS[2], KEYS[3]
local paymentId, recheckInMs = ARGV[1], tonumber(ARGV[2])
if rcall('HGET', paymentKey, 'status') == 'processing' then
  rcall('ZADD', unknownKey, redisNowMs() + recheckInMs, paymentId)
  return { 0, 0 }
end
rcall('ZREM', unknownKey, paymentId)
rcall('ZREM', reviewKey, paymentId)
return { 0, 1 }
