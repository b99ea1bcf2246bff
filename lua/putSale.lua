--[[
  putSale: create a sale, or update the fields given for an existing one.

  Idempotent: writing the same fields twice leaves the same sale. An update may raise stock but
  never below held + sold, and price / currency are fixed once the sale has an order.
  Fields absent from ARGV[2] keep their value (on create: the defaults the caller passes).

  The sale index (rg:sales) and the active index (rg:active) are outside the sale's slot, so
  this script cannot list the sale itself on Redis Cluster. The caller runs checkSale, then
  lists the sale (listSale, joinActiveSales), then runs this: a crash between the two leaves a
  listed id with no sale behind it, which every reader of the indexes skips, never a sale the
  indexes miss. See SaleStore.put.

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
-- @include saleChange
local saleKey, lanesKey = KEYS[1], KEYS[2]
local defaults, given = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])

local nowMs = redisNowMs()
local refusal, created, fields = saleChange(saleKey, defaults, given, nowMs)
if refusal then return refusal end

fields.updatedAt = nowMs
local flat = {}
for k, v in pairs(fields) do
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
rcall('HSET', saleKey, unpack(flat))
return { 0, created, rcall('HGETALL', saleKey), nowMs, rcall('HGETALL', lanesKey) }
