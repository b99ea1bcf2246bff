--[[
  takePayments: a worker has read these payments from one lane; mark them processing.

  A payment still queued becomes processing, its order shows it, and its lane's served counter
  moves by one: queue positions shrink as the lane is served. A redelivered payment (already
  processing) is answered as it is and counted nothing twice.

  KEYS[1]        lane counters   rg:{s:<saleId>}:lanes
  KEYS[2k]       payment hash k  rg:{s:<saleId>}:p:<paymentId>
  KEYS[2k+1]     its order hash  rg:{s:<saleId>}:o:<orderId>
  ARGV[1]        lane (standard | priority)
  ARGV[1+k]      paymentId k

  Returns { 0 OK, { status, method, amount, currency, userId, orderId, createdAt } for each payment, in order }
          (status false when the payment does not exist)
]]
local rcall = redis.call
local lanesKey, lane = KEYS[1], ARGV[1]
local out = {}
for i = 2, #KEYS, 2 do
  local paymentKey, orderKey, paymentId = KEYS[i], KEYS[i + 1], ARGV[i / 2 + 1]
  local p = rcall('HMGET', paymentKey, 'status', 'method', 'amount', 'currency', 'userId', 'orderId', 'createdAt')
  if p[1] == 'queued' then
    p[1] = 'processing'
    rcall('HSET', paymentKey, 'status', 'processing')
    rcall('HINCRBY', lanesKey, lane .. ':srv', 1)
    if rcall('HGET', orderKey, 'pid') == paymentId then rcall('HSET', orderKey, 'pstatus', 'processing') end
  end
  out[#out + 1] = p
end
return { 0, out }
