--[[
  listSale: add a sale to the index of every sale (what the ops view, /metrics, the limits'
  dry-run sums and the reconciler walk). The index is one key outside every sale's slot, so
  only this one-key script writes it, never in the same script as the sale.

  SaleStore.put lists a sale before it writes it (after checkSale accepted the write): a listed
  id whose sale was never written (a crash between the two, or a put refused after the check) is
  skipped by every reader, while a written sale the index missed would go unseen. A sale is
  never taken out of the index.

  KEYS[1] sales  rg:sales  (set of sale ids)

  ARGV[1] saleId

  Returns { 0 OK, 1 if newly listed else 0 }
]]
local rcall = redis.call
local salesKey, saleId = KEYS[1], ARGV[1]
return { 0, rcall('SADD', salesKey, saleId) }
