--[[
  addTally: adds one gateway instance's counts of the last second to a sale's tally (decisions by
  reason, payment outcomes), which the ops view turns into rates, and to the
  sale's history: one entry per second of Redis time for the last 900 s, so a page opened late
  still sees the sale from its start. Each entry also notes the seats held and sold when it was
  written (the timeline). Counts for a sale that does not exist are dropped, so made-up sale ids
  in request paths leave nothing behind.

  KEYS[1] sale     rg:{s:<saleId>}:sale
  KEYS[2] tally    rg:{s:<saleId>}:tally     field "<kind>:<reason>" -> count; "soldOutAtMs" -> when
                   available first reached 0
  KEYS[3] history  rg:{s:<saleId>}:history   field "<second>" -> cjson { "<kind>:<reason>": count,
                   "seats:held": n, "seats:sold": n }; field "first" -> oldest second kept

  ARGV[...] field, count, field, count, ...  (a field starting "h." goes to the history only:
            the health strip's latency buckets and status classes, e.g. h.lat:le250, h.http:5xx)

  The history is bounded: seconds older than 900 s are deleted as the window moves (at most one
  delete per second passed, or the whole hash after a quiet spell), and the hash expires 960 s
  after its last write.

  Returns { 0 OK }  { 10 SALE_NOT_FOUND }
]]
local rcall = redis.call
-- @include now
local saleKey, tallyKey, historyKey = KEYS[1], KEYS[2], KEYS[3]
local HISTORY_SECONDS = 900
if rcall('EXISTS', saleKey) == 0 then return { 10 } end

local nowMs = redisNowMs()
local second = math.floor(nowMs / 1000)
local oldest = second - HISTORY_SECONDS + 1
local first = tonumber(rcall('HGET', historyKey, 'first'))
if first and first < oldest - HISTORY_SECONDS then
  -- nothing written for longer than the window: every entry is older than it
  rcall('DEL', historyKey)
  first = nil
elseif first then
  for s = first, oldest - 1 do rcall('HDEL', historyKey, s) end
end
if first == nil or first < oldest then rcall('HSET', historyKey, 'first', math.max(first or second, oldest)) end

local stored = rcall('HGET', historyKey, second)
local entry = {}
if stored then entry = cjson.decode(stored) end
for i = 1, #ARGV, 2 do
  local field, n = ARGV[i], tonumber(ARGV[i + 1])
  if string.sub(field, 1, 2) ~= 'h.' then rcall('HINCRBY', tallyKey, field, n) end
  entry[field] = (entry[field] or 0) + n
end
local sale = rcall('HMGET', saleKey, 'stock', 'held', 'sold')
local stock, held, sold = tonumber(sale[1]) or 0, tonumber(sale[2]) or 0, tonumber(sale[3]) or 0
entry['seats:held'] = held
entry['seats:sold'] = sold
rcall('HSET', historyKey, second, cjson.encode(entry))
rcall('PEXPIRE', historyKey, (HISTORY_SECONDS + 60) * 1000)
if stock > 0 and stock - held - sold <= 0 then rcall('HSETNX', tallyKey, 'soldOutAtMs', nowMs) end
return { 0 }
