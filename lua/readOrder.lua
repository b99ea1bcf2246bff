--[[
  readOrder: an order as its buyer may see it, with Redis time (a held order whose hold has
  passed is shown expired before the sweep reaches it).

  Read-only: changes nothing.

  KEYS[1] order  rg:{s:<saleId>}:o:<orderId>

  ARGV[1] userId  the caller; another buyer's order is not found

  Returns { 0 OK, order HGETALL, nowMs }  { 20 NOT_FOUND }
]]
local rcall = redis.call
-- @include now
if rcall('HGET', KEYS[1], 'userId') ~= ARGV[1] then return { 20 } end
local nowMs = redisNowMs()
return { 0, rcall('HGETALL', KEYS[1]), nowMs }
