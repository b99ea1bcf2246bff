--[[
  requeueLost: find a sale's payments that wait (queued, or processing) but whose lane entry is
  gone, and put them back in their lane, so a worker takes them again. One SCAN page per call.

  Only payments accepted more than minAgeMs ago are looked at (a young one may be in a worker's
  hands). Its entry is looked up by the id acceptPayment recorded (eid), or, for a payment
  without one, in its lane within 100 ms of when it was accepted (stream ids are Redis times);
  the ledger answers a payment it already posted, so a second entry is harmless.

  KEYS[1] lanes     rg:{s:<saleId>}:lanes
  KEYS[2] standard  rg:{s:<saleId>}:lane:standard
  KEYS[3] priority  rg:{s:<saleId>}:lane:priority

  ARGV[1] cursor    SCAN cursor ('0' to start)
  ARGV[2] pattern   rg:{s:<saleId>}:p:*
  ARGV[3] minAgeMs
  ARGV[4] count     SCAN COUNT

  Returns { 0 OK, next cursor ('0' when done), { paymentIds put back } }
]]
local rcall = redis.call
-- @include now
local laneKeys = { standard = KEYS[2], priority = KEYS[3] }
local nowMs = redisNowMs()
local page = rcall('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', tonumber(ARGV[4]), 'TYPE', 'hash')
local requeued = {}
for _, paymentKey in ipairs(page[2]) do
  local p = rcall('HMGET', paymentKey, 'status', 'createdAt', 'lane', 'orderId', 'seq', 'eid')
  local createdAt = tonumber(p[2])
  local laneKey = laneKeys[p[3] or '']
  if (p[1] == 'queued' or p[1] == 'processing') and createdAt and laneKey
    and nowMs - createdAt >= tonumber(ARGV[3]) then
    local paymentId = string.sub(paymentKey, #ARGV[2])
    local found = false
    local entries
    if p[6] then entries = rcall('XRANGE', laneKey, p[6], p[6])
    else entries = rcall('XRANGE', laneKey, createdAt - 100, createdAt + 100, 'COUNT', 2000) end
    for _, e in ipairs(entries) do
      local fields = e[2]
      for i = 1, #fields, 2 do
        if fields[i] == 'paymentId' and fields[i + 1] == paymentId then found = true end
      end
      if found then break end
    end
    if not found then
      local entryId = rcall('XADD', laneKey, '*', 'paymentId', paymentId, 'orderId', p[4], 'seq', p[5] or 0)
      rcall('HSET', paymentKey, 'eid', entryId)
      requeued[#requeued + 1] = paymentId
    end
  end
end
return { 0, page[1], requeued }
