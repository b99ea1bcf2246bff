--[[
  scheduleRecheck: a payment's channel still gave no answer to a query. It is queried again
  after a backoff that doubles with each unanswered query (from baseMs up to maxMs), and once it
  has gone unanswered for reviewAfterMs since it was accepted it is marked for review (the ops
  view and rushgate_payments_review show it). It stays unknown and its order keeps its stock:
  review does not stop the queries, so a late answer still settles it.

  KEYS[1] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2] unknown  rg:{s:<saleId>}:unknown  (zset paymentId -> next check, ms)
  KEYS[3] review   rg:{s:<saleId>}:review   (zset paymentId -> ms when marked)

  ARGV[1] paymentId
  ARGV[2] baseMs
  ARGV[3] maxMs
  ARGV[4] reviewAfterMs

  Returns { 0 OK, ms until the next query, 1 if marked for review now else 0 }
]]
local rcall = redis.call
-- @include now
local paymentKey, unknownKey, reviewKey = KEYS[1], KEYS[2], KEYS[3]
local paymentId = ARGV[1]
local baseMs, maxMs, reviewAfterMs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local nowMs = redisNowMs()
local checks = rcall('HINCRBY', paymentKey, 'checks', 1)
local delay = math.min(maxMs, baseMs * 2 ^ math.min(checks - 1, 30))
rcall('ZADD', unknownKey, nowMs + delay, paymentId)
local createdAt = tonumber(rcall('HGET', paymentKey, 'createdAt') or nowMs)
local marked = 0
if nowMs - createdAt >= reviewAfterMs and not rcall('ZSCORE', reviewKey, paymentId) then
  rcall('ZADD', reviewKey, nowMs, paymentId)
  rcall('HSET', paymentKey, 'review', nowMs)
  marked = 1
end
return { 0, delay, marked }
