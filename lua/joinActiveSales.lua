--[[
  joinActiveSales: list a sale as active (again) in the index the payment worker and the hold
  sweeper walk, moving its generation, so a walker that read the old generation cannot retire it
  (leaveActiveSales). SaleStore.put calls it before and after it writes the sale.

  The index is one key outside every sale's slot: only its own one-key scripts write it.

  KEYS[1] active  rg:active  (zset saleId -> generation)

  ARGV[1] saleId

  Returns { 0 OK, generation now }
]]
local rcall = redis.call
local activeKey, saleId = KEYS[1], ARGV[1]
return { 0, tonumber(rcall('ZINCRBY', activeKey, 1, saleId)) }
