--[[
  requeueLost: find a sale's payments that wait (queued, or processing) but whose lane entry is
  gone, and put them back in their lane, so a worker takes them again. One SCAN page per call.

  Only payments accepted more than minAgeMs ago are looked at (a young one may be in a worker's
  hands). Its entry is looked for in its lane around the time it was accepted (stream ids are
  Redis times); the ledger answers a payment it already posted, so a second entry is harmless.

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
  local p = rcall('HMGET', paymentKey, 'status', 'createdAt', 'lane', 'orderId', 'seq')
  local createdAt = tonumber(p[2])
  local laneKey = laneKeys[p[3] or '']
  if (p[1] == 'queued' or p[1] == 'processing') and createdAt and laneKey
    and nowMs - createdAt >= tonumber(ARGV[3]) then
    local paymentId = string.sub(paymentKey, #ARGV[2])
    local found = false
    local entries = rcall('XRANGE', laneKey, createdAt - 2000, createdAt + 2000, 'COUNT', 10000)
    for _, e in ipairs(entries) do
      local fields = e[2]
      for i = 1, #fields, 2 do
        if fields[i] == 'paymentId' and fields[i + 1] == paymentId then found = true end
      end
      if found then break end
    end
    if not found then
      rcall('XADD', laneKey, '*', 'paymentId', paymentId, 'orderId', p[4], 'seq', p[5] or 0)
      requeued[#requeued + 1] = paymentId
    end
  end
end
return { 0, page[1], requeued }
