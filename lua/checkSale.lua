--[[
  checkSale: would putSale accept these fields now? Answers what putSale would, and writes
  nothing. SaleStore.put asks it first, so a refused put lists no sale: the sale is listed only
  once its write is known to be accepted, and before that write (see putSale).

  Read-only: changes nothing.

  KEYS[1] sale  rg:{s:<saleId>}:sale

  ARGV[1] defaults  JSON of the defaults for a new sale { name, perUserLimit, holdSeconds }
  ARGV[2] given     JSON of the fields given (as putSale's)

  Returns
    { 0 OK, created (1|0) }
    { 16 STOCK_CONFLICT, held + sold }  { 17 SALE_LOCKED }  { 18 INVALID_WINDOW }
    { 19 MISSING_FIELDS }
]]
local rcall = redis.call
-- @include now
-- @include saleChange
local saleKey = KEYS[1]
local defaults, given = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])
local refusal, created = saleChange(saleKey, defaults, given, redisNowMs())
if refusal then return refusal end
return { 0, created }
