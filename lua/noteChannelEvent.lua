--[[
  noteChannelEvent: a verified channel notification arrived. Each event id counts once; the
  payment it names is queued for an immediate status check by a worker (which posts to the
  ledger), so a notification never moves money by itself and a lost one is caught by the query.

  KEYS[1] event    rg:{s:<saleId>}:evt:<channel>:<eventId>  the event's marker
  KEYS[2] payment  rg:{s:<saleId>}:p:<paymentId>
  KEYS[3] unknown  rg:{s:<saleId>}:unknown  payments to resolve

  ARGV[1] paymentId
  ARGV[2] rememberSeconds  how long event ids are remembered

  Returns { 0 OK }  { 1 REPLAYED } (event seen before)  { 20 NOT_FOUND } (no such payment)
]]
local rcall = redis.call
local eventKey, paymentKey, unknownKey = KEYS[1], KEYS[2], KEYS[3]
local paymentId, ttlSeconds = ARGV[1], ARGV[2]
if rcall('EXISTS', paymentKey) == 0 then return { 20 } end
if not rcall('SET', eventKey, '1', 'NX', 'EX', ttlSeconds) then return { 1 } end
rcall('ZADD', unknownKey, 0, paymentId)
return { 0 }
