--[[
  addTally: adds one gateway instance's counts of the last second to a sale's tally (decisions by
  reason, payment outcomes), which the ops view turns into rates. Counts for a sale that does not
  exist are dropped, so made-up sale ids in request paths leave nothing behind.

  KEYS[1] sale   rg:{s:<saleId>}:sale
  KEYS[2] tally  rg:{s:<saleId>}:tally   field "<kind>:<reason>" -> count

  ARGV[...] field, count, field, count, ...

  Returns { 0 OK }  { 10 SALE_NOT_FOUND }
]]
local rcall = redis.call
if rcall('EXISTS', KEYS[1]) == 0 then return { 10 } end
for i = 1, #ARGV, 2 do
  rcall('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
end
return { 0 }
