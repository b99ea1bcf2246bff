--[[
  readOpsView: what the ops view shows of one sale besides its counters, in one round trip: the
  tally, the history seconds from `fromSecond` on (all of it when absent or older than the
  history), and the payments that may need a human: in `unknown` (and how many of those are
  overdue for their next check), flagged for review, and an oversell alarm.

  Read-only: changes nothing.

  KEYS[1] tally     rg:{s:<saleId>}:tally
  KEYS[2] history   rg:{s:<saleId>}:history   (addTally writes it)
  KEYS[3] unknown   rg:{s:<saleId>}:unknown   (zset paymentId -> next check ms)
  KEYS[4] review    rg:{s:<saleId>}:review    (zset paymentId -> flagged at ms)
  KEYS[5] oversell  rg:{s:<saleId>}:oversell  (hash charges, seats, detectedAt, refunded)

  ARGV[1] fromSecond  first second of history wanted ('' = every second kept)
  ARGV[2] overdueMs   an `unknown` payment whose check is this late counts as overdue

  Returns { 0 OK, tally as HGETALL, history as { second, json, ... }, unknown, unknownOverdue,
            review, oversell as HGETALL, nowMs }
]]
local rcall = redis.call
-- @include now
local tallyKey, historyKey, unknownKey, reviewKey, oversellKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local fromSecond, overdueMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local HISTORY_SECONDS = 900

local nowMs = redisNowMs()
local nowSecond = math.floor(nowMs / 1000)
local history = {}
if fromSecond and fromSecond > nowSecond - HISTORY_SECONDS then
  local seconds = {}
  for s = fromSecond, nowSecond do seconds[#seconds + 1] = s end
  if #seconds > 0 then
    local values = rcall('HMGET', historyKey, unpack(seconds))
    for i = 1, #seconds do
      if values[i] then
        history[#history + 1] = tostring(seconds[i])
        history[#history + 1] = values[i]
      end
    end
  end
else
  local all = rcall('HGETALL', historyKey)
  for i = 1, #all, 2 do
    if all[i] ~= 'first' and tonumber(all[i]) > nowSecond - HISTORY_SECONDS then
      history[#history + 1] = all[i]
      history[#history + 1] = all[i + 1]
    end
  end
end
return { 0, rcall('HGETALL', tallyKey), history, rcall('ZCARD', unknownKey),
  rcall('ZCOUNT', unknownKey, '-inf', nowMs - overdueMs), rcall('ZCARD', reviewKey),
  rcall('HGETALL', oversellKey), nowMs }
