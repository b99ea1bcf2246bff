-- releaseHold: an order's held units go back to the sale and out of its buyer's count.
local function releaseHold(saleKey, usersKey, userId, quantity)
  rcall('HINCRBY', saleKey, 'held', -quantity)
  rcall('HINCRBY', usersKey, userId, -quantity)
end
