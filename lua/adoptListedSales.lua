--[[
  adoptListedSales: add sales of rg:sales that the active index does not hold yet (sales put
  before the index existed), each at generation 1; a sale already listed keeps its generation.
  A finished sale adopted here leaves again at the walker's first check.

  KEYS[1] active  rg:active  (zset saleId -> generation)

  ARGV[...] saleIds  the sales to adopt (a batch of rg:sales)

  Returns { 0 OK, sales adopted }
]]
local rcall = redis.call
local activeKey = KEYS[1]
local adopted = 0
for _, saleId in ipairs(ARGV) do adopted = adopted + rcall('ZADD', activeKey, 'NX', 1, saleId) end
return { 0, adopted }
