--[[
  putSale: create a sale, or update the fields given for an existing one.

  Idempotent: writing the same fields twice leaves the same sale. An update may raise stock but
  never below held + sold, and price / currency are fixed once the sale has an order.
  Fields absent from ARGV[2] keep their value (on create: the defaults the caller passes).

  KEYS[1] sale   rg:{s:<saleId>}:sale
  KEYS[2] lanes  rg:{s:<saleId>}:lanes

  ARGV[1] defaults  JSON of the defaults for a new sale { name, perUserLimit, holdSeconds }
  ARGV[2] given     JSON of the fields given: name, stock, price, currency, perUserLimit,
                    holdSeconds, opensAt (ms), closesAt (ms, or null for none)

  Returns
    { 0 OK, created (1|0), sale HGETALL, nowMs, lanes HGETALL }
    { 16 STOCK_CONFLICT, held + sold }  { 17 SALE_LOCKED }
    { 18 INVALID_WINDOW }  opensAt not before closesAt
    { 19 MISSING_FIELDS }  a new sale needs stock, price and currency
]]
local rcall = redis.call
-- @include now
local saleKey, lanesKey = KEYS[1], KEYS[2]
local defaults, given = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])

local nowMs = redisNowMs()

local cur = rcall('HMGET', saleKey, 'stock', 'held', 'sold', 'price', 'currency', 'orders',
  'opensAt', 'closesAt')
local created = 0
local fields = {}
if not cur[1] then
  if given.stock == nil or given.price == nil or given.currency == nil then return { 19 } end
  created = 1
  fields = { held = 0, sold = 0, orders = 0, createdAt = nowMs, name = defaults.name,
    perUserLimit = defaults.perUserLimit, holdSeconds = defaults.holdSeconds,
    opensAt = nowMs, closesAt = '' }
else
  local committed = tonumber(cur[2]) + tonumber(cur[3])
  if given.stock ~= nil and given.stock < committed then return { 16, committed } end
  if tonumber(cur[6]) > 0 and ((given.price ~= nil and given.price ~= tonumber(cur[4])) or
      (given.currency ~= nil and given.currency ~= cur[5])) then
    return { 17 }
  end
  fields.opensAt, fields.closesAt = tonumber(cur[7]), tonumber(cur[8]) or ''
end
for k, v in pairs(given) do
  if v == cjson.null then v = '' end
  fields[k] = v
end
if fields.closesAt ~= '' and fields.closesAt <= fields.opensAt then return { 18 } end

fields.updatedAt = nowMs
local flat = {}
for k, v in pairs(fields) do
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
rcall('HSET', saleKey, unpack(flat))
return { 0, created, rcall('HGETALL', saleKey), nowMs, rcall('HGETALL', lanesKey) }
