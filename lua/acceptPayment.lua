--[[
  acceptPayment: consume an order's single-use payment token and queue its payment (FIFO).

  One pending payment per order. Idempotent by token: the consumed token is remembered on the
  order (ptok), so the same token again (a double click, a resend after a reconnect) answers the
  original payment and queues nothing. The caller has already checked the token's signature.

  KEYS[1] order          rg:{s:<saleId>}:o:<orderId>
  KEYS[2] holds          rg:{s:<saleId>}:holds  hold deadlines
  KEYS[3] payment        rg:{s:<saleId>}:p:<paymentId>  the new payment
  KEYS[4] lanes          rg:{s:<saleId>}:lanes  (<lane>:enq and <lane>:srv sequence numbers)
  KEYS[5] lane           rg:{s:<saleId>}:lane:<lane>  the lane's stream
  KEYS[6] admission      rg:{s:<saleId>}:admission  (dry:v<version>:payments.<scope> counts)
  KEYS[7] userWindow     rg:{s:<saleId>}:rl:payments.perUser:w<seconds>:<userId>
  KEYS[8] addressWindow  rg:{s:<saleId>}:rl:payments.perAddress:w<seconds>:<address>

  ARGV[1] orderId
  ARGV[2] userId
  ARGV[3] nonce                 the token's nonce
  ARGV[4] method
  ARGV[5] lane                  standard | priority
  ARGV[6] paymentId
  ARGV[7] dryRunPrefix          dry:v<policies version>:payments
  ARGV[8] userLimit             the buyer's window: limit ('' = none)
  ARGV[9] userWindowMs
  ARGV[10] userDryRun           '1' for a dry run
  ARGV[11] addressLimit         the address's window: the same
  ARGV[12] addressWindowMs
  ARGV[13] addressDryRun

  A replay is answered before any window is counted and counts against none: a click storm
  gets the buyer's one payment, never a 429.

  Returns
    { 0 OK, paymentId, position, amount, currency, lane }
    { 1 REPLAYED, paymentId, position, amount, currency, lane }   (the original answer)
    { 15 IDEMPOTENCY_KEY_REUSED }  same token, another method
    { 21 TOKEN_INVALID }  { 22 PAYMENT_PENDING, paymentId }  { 23 ORDER_PAID }  { 24 ORDER_CLOSED }
    { 26 RATE_LIMITED, scope ('perUser' | 'perAddress'), ms until it resets }
]]
local rcall = redis.call
-- @include now
-- @include windows
local orderKey, holdsKey, paymentKey, lanesKey, laneKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local orderId, userId, nonce, method, lane, paymentId =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

local o = rcall('HMGET', orderKey, 'userId', 'status', 'expiresAt', 'tok', 'ptok', 'pid',
  'pmethod', 'plane', 'ppos', 'amount', 'currency')
local owner, status, expiresAt, tok, ptok, pid = o[1], o[2], tonumber(o[3]), o[4], o[5], o[6]
local pmethod, plane, ppos, amount, currency = o[7], o[8], o[9], o[10], o[11]

if owner ~= userId then return { 21 } end
if ptok == nonce then
  if pmethod ~= method then return { 15 } end
  return { 1, pid, tonumber(ppos), tonumber(amount), currency, plane }
end

local nowMs = redisNowMs()
local refusedScope, resetMs = countWindows({ KEYS[7], KEYS[8] }, ARGV, 8, nowMs, KEYS[6], ARGV[7])
if refusedScope then return { 26, refusedScope, resetMs } end

if status == 'paid' then return { 23 } end
if status == 'paying' then return { 22, pid } end
if status ~= 'held' then return { 24 } end
if nowMs >= expiresAt then return { 24 } end
if tok ~= nonce then return { 21 } end

local seq = rcall('HINCRBY', lanesKey, lane .. ':enq', 1)
local served = tonumber(rcall('HGET', lanesKey, lane .. ':srv') or '0')
local position = seq - served
local entryId = rcall('XADD', laneKey, '*', 'paymentId', paymentId, 'orderId', orderId, 'seq', seq)
rcall('HSET', paymentKey, 'orderId', orderId, 'userId', userId, 'method', method,
  'amount', amount, 'currency', currency, 'status', 'queued', 'lane', lane, 'seq', seq,
  'createdAt', nowMs, 'eid', entryId)
rcall('HSET', orderKey, 'status', 'paying', 'tok', '', 'ptok', nonce, 'pid', paymentId,
  'pmethod', method, 'plane', lane, 'ppos', position, 'pstatus', 'queued')
rcall('ZREM', holdsKey, orderId)
return { 0, paymentId, position, tonumber(amount), currency, lane }
