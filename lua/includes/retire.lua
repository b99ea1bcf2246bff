-- recordTtlMs: how long an ended order or a settled payment is kept before it expires: the
-- sale's recordTtlMs field (RUSHGATE_RECORD_TTL_SECONDS, written by the reconciler), 7 days
-- when unset. Keep it at 25 h or more: an Idempotency-Key replay (kept 25 h) must find its order.
local function recordTtlMs(saleKey)
  return math.max(tonumber(rcall('HGET', saleKey, 'recordTtlMs')) or 604800000, 1000)
end
