--[[
  readSale: a sale, its live counters and queue counters in one consistent read, with Redis time
  (so status and "available + held + sold == stock" are judged on one snapshot).

  Read-only: changes nothing.

  KEYS[1] sale       rg:{s:<saleId>}:sale
  KEYS[2] lanes      rg:{s:<saleId>}:lanes
  KEYS[3] admission  rg:{s:<saleId>}:admission  (per-second admission; dry-run refusals)

  Returns { 0 OK, sale HGETALL, nowMs, lanes HGETALL, dry-run refusals }  { 10 SALE_NOT_FOUND }
]]
local rcall = redis.call
-- @include now
local sale = rcall('HGETALL', KEYS[1])
if #sale == 0 then return { 10 } end
local nowMs = redisNowMs()
return { 0, sale, nowMs, rcall('HGETALL', KEYS[2]), tonumber(rcall('HGET', KEYS[3], 'dryRunRefusals') or '0') }
