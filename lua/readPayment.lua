--[[
  readPayment: a payment and its current place in its lane (enqueued seq - served seq).

  Read-only: changes nothing.

  KEYS[1] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2] lanes    rg:{s:<saleId>}:lanes

  ARGV[1] userId  the caller; another buyer's payment is not found

  Returns { 0 OK, payment HGETALL, served seq of its lane }  { 20 NOT_FOUND }
]]
local rcall = redis.call
local p = rcall('HMGET', KEYS[1], 'userId', 'lane')
if p[1] ~= ARGV[1] then return { 20 } end
return { 0, rcall('HGETALL', KEYS[1]), tonumber(rcall('HGET', KEYS[2], p[2] .. ':srv') or '0') }
