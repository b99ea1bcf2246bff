--[[
  reissueToken: give a held order a fresh single-use payment token; the previous unused one
  stops working (only the current nonce is stored).

  Idempotent by nonce (minted by the gateway): a resend finds its nonce already current.

  KEYS[1] order  rg:{s:<saleId>}:o:<orderId>

  ARGV[1] userId  the caller
  ARGV[2] nonce   the new token's nonce

  Returns
    { 0 OK, expiresAtMs }
    { 20 NOT_FOUND }  { 22 PAYMENT_PENDING, paymentId }  { 23 ORDER_PAID }  { 24 ORDER_CLOSED }
]]
local rcall = redis.call
-- @include now
local orderKey = KEYS[1]
local userId, nonce = ARGV[1], ARGV[2]

local o = rcall('HMGET', orderKey, 'userId', 'status', 'expiresAt', 'pid')
if o[1] ~= userId then return { 20 } end
local status, expiresAt, pid = o[2], tonumber(o[3]), o[4]
if status == 'paying' then return { 22, pid } end
if status == 'paid' then return { 23 } end
if status ~= 'held' then return { 24 } end

local nowMs = redisNowMs()
if nowMs >= expiresAt then return { 24 } end
rcall('HSET', orderKey, 'tok', nonce)
return { 0, expiresAt }
