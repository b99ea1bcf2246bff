--[[
  createOrder: hold stock for one buyer's order, atomically.

  Idempotent by order id (minted by the gateway, ARGV[1]): a resend of the same call after a
  reconnect finds the order already written and answers it again, holding nothing twice.
  With an Idempotency-Key (KEYS[5] holds it), a replay answers the stored creation.

  KEYS[1] sale           rg:{s:<saleId>}:sale
  KEYS[2] users          rg:{s:<saleId>}:users   (userId -> held + paying + paid units)
  KEYS[3] holds          rg:{s:<saleId>}:holds   (zset orderId -> expiresAt ms)
  KEYS[4] order          rg:{s:<saleId>}:o:<orderId>  the new order
  KEYS[5] idempotency    rg:{s:<saleId>}:idem:<userId>|<key>  (untouched without a fingerprint)
  KEYS[6] admission      rg:{s:<saleId>}:admission  (hash: second, count, dryRunRefusals,
                         dry:v<version>:orders.<scope> for dry-run buyer and address windows)
  KEYS[7] userWindow     rg:{s:<saleId>}:rl:orders.perUser:w<seconds>:<userId>
  KEYS[8] addressWindow  rg:{s:<saleId>}:rl:orders.perAddress:w<seconds>:<address>

  ARGV[1] orderId
  ARGV[2] userId
  ARGV[3] quantity
  ARGV[4] nonce                 the token's nonce
  ARGV[5] fingerprint           of the request ('' = no Idempotency-Key)
  ARGV[6] idempotencyTtlMs
  ARGV[7] perSecond             admissions allowed per second for this sale ('' = no limit)
  ARGV[8] perSecondDryRun       '1' when that limit is a dry run (count, refuse nobody)
  ARGV[9] dryRunPrefix          dry:v<policies version>:orders
  ARGV[10] userLimit            the buyer's window: limit ('' = none)
  ARGV[11] userWindowMs
  ARGV[12] userDryRun           '1' for a dry run
  ARGV[13] addressLimit         the address's window: the same
  ARGV[14] addressWindowMs
  ARGV[15] addressDryRun

  A replay (Idempotency-Key, or a resend of this very call) is answered before any window is
  counted, and counts against none. The windows count only calls for a sale that is open.

  Returns
    { 0 OK, amount, currency, expiresAtMs, availableAfter, nonce }
    { 1 REPLAYED, orderId, quantity, amount, currency, expiresAtMs, nonce }
    { 10 SALE_NOT_FOUND }  { 11 SALE_NOT_OPEN, opensAtMs, nowMs }  { 12 SALE_CLOSED }
    { 13 SOLD_OUT, available }  { 14 LIMIT_EXCEEDED, units, perUserLimit }
    { 15 IDEMPOTENCY_KEY_REUSED }
    { 26 RATE_LIMITED, scope ('perSale' | 'perUser' | 'perAddress'), ms until it resets }
]]
local rcall = redis.call
-- @include now
local saleKey, usersKey, holdsKey, orderKey, idemKey, admissionKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
-- @include windows
local orderId, userId, quantity, nonce = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local fingerprint, idemTtlMs = ARGV[5], ARGV[6]
local perSecond, admissionDryRun = tonumber(ARGV[7]), ARGV[8] == '1'

local function creation(fields)
  return { 1, fields[1], fields[2], fields[3], fields[4], fields[5], fields[6] }
end

if fingerprint ~= '' then
  local stored = rcall('GET', idemKey)
  if stored then
    local record = cjson.decode(stored)
    if record.fp ~= fingerprint then return { 15 } end
    return creation({ record.orderId, record.quantity, record.amount, record.currency,
      record.expiresAt, record.nonce })
  end
end

-- a resend of this very call: the order exists already
local existing = rcall('HMGET', orderKey, 'quantity', 'amount', 'currency', 'expiresAt', 'nonce0')
if existing[1] then
  return creation({ orderId, existing[1], existing[2], existing[3], existing[4], existing[5] })
end

local sale = rcall('HMGET', saleKey, 'stock', 'held', 'sold', 'price', 'currency',
  'perUserLimit', 'holdSeconds', 'opensAt', 'closesAt', 'orders')
if not sale[1] then return { 10 } end
local stock, held, sold = tonumber(sale[1]), tonumber(sale[2]), tonumber(sale[3])
local price, currency = tonumber(sale[4]), sale[5]
local perUserLimit, holdSeconds = tonumber(sale[6]), tonumber(sale[7])
local opensAt, closesAt, orders = tonumber(sale[8]), tonumber(sale[9]), tonumber(sale[10]) or 0

local nowMs = redisNowMs()

if closesAt and nowMs >= closesAt then return { 12 } end
if nowMs < opensAt then return { 11, opensAt, nowMs } end

-- counted once the sale is open: tries before the opening never cost a buyer its first window
local refusedScope, resetMs = countWindows({ KEYS[7], KEYS[8] }, ARGV, 10, nowMs, admissionKey, ARGV[9])
if refusedScope then return { 26, refusedScope, resetMs } end

-- per-sale admission: a fixed one-second window on Redis time, in one key
if perSecond then
  local second = math.floor(nowMs / 1000)
  local a = rcall('HMGET', admissionKey, 'second', 'count')
  local count = 1
  if tonumber(a[1]) == second then count = tonumber(a[2]) + 1 end
  rcall('HSET', admissionKey, 'second', second, 'count', count)
  if count > perSecond then
    if not admissionDryRun then return { 26, 'perSale', 1000 - nowMs % 1000 } end
    rcall('HINCRBY', admissionKey, 'dryRunRefusals', 1)
  end
end

local available = stock - held - sold
if available < quantity then return { 13, available } end

local amount = price * quantity
local expiresAt = nowMs + holdSeconds * 1000

-- the buyer's units, counted first and taken back on a refusal: one command on the way that
-- admits, which is most of them (a refusal may leave a 0 behind, as a released hold does; every
-- reader takes a missing count as 0)
local units = rcall('HINCRBY', usersKey, userId, quantity) - quantity
if units + quantity > perUserLimit then
  rcall('HINCRBY', usersKey, userId, -quantity)
  return { 14, units, perUserLimit }
end

-- held and orders were read above, in this same script: one HSET writes both
rcall('HSET', saleKey, 'held', held + quantity, 'orders', orders + 1)
rcall('ZADD', holdsKey, expiresAt, orderId)
rcall('HSET', orderKey, 'userId', userId, 'quantity', quantity, 'amount', amount,
  'currency', currency, 'status', 'held', 'expiresAt', expiresAt, 'createdAt', nowMs,
  'tok', nonce, 'nonce0', nonce)
if fingerprint ~= '' then
  rcall('SET', idemKey, cjson.encode({ fp = fingerprint, orderId = orderId, quantity = quantity,
    amount = amount, currency = currency, expiresAt = expiresAt, nonce = nonce }), 'PX', idemTtlMs)
end
return { 0, amount, currency, expiresAt, available - quantity, nonce }
