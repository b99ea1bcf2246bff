--[[
  leaveActiveSales: take a finished sale out of the active index, only if its generation is still
  the one the walker read before it judged the sale: a PUT meanwhile (joinActiveSales) moved it,
  and the sale stays.

  KEYS[1] active  rg:active  (zset saleId -> generation)

  ARGV[1] saleId
  ARGV[2] generation  as the walker read it

  Returns { 0 OK, 1 if the sale left else 0 }
]]
local rcall = redis.call
local activeKey, saleId, generation = KEYS[1], ARGV[1], ARGV[2]
if rcall('ZSCORE', activeKey, saleId) ~= generation then return { 0, 0 } end
return { 0, rcall('ZREM', activeKey, saleId) }
