--[[
  readSaleFaults: what /metrics shows of a sale's faults, in one round trip: how many payments
  are marked for review, and whether an oversell was detected (the reconciler's records).

  Read-only: changes nothing.

  KEYS[1] review    rg:{s:<saleId>}:review    (zset paymentId -> flagged at ms)
  KEYS[2] oversell  rg:{s:<saleId>}:oversell  (hash charges, seats, detectedAt, refunded)

  Returns { 0 OK, payments marked for review, 1 if an oversell was detected else 0 }
]]
local rcall = redis.call
local reviewKey, oversellKey = KEYS[1], KEYS[2]
return { 0, rcall('ZCARD', reviewKey), rcall('HEXISTS', oversellKey, 'detectedAt') }
