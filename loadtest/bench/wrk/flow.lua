-- Order-then-pay flow, like the nginx peer's flow.lua: each 201 order queues its (buyer, order,
-- token); the next request on this thread pays it with the wallet; otherwise a new order.
-- Every connection alternates order, pay, ... and the latency mixes both endpoints.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local q, head, tail = {}, 1, 0

function request()
  if head <= tail then
    local p = q[head]
    q[head] = nil
    head = head + 1
    return wrk.format("POST", "/v1/orders/" .. p.order .. "/payments", headers(p.buyer),
      '{"paymentToken":"' .. p.token .. '","method":"wallet"}')
  end
  return wrk.format("POST", "/v1/sales/" .. sale .. "/orders", headers((next_buyer())), '{"quantity":1}')
end

function response(status, hdrs, body)
  count(status)
  if status == 201 then
    local buyer = buyer_of(hdrs)
    local order = body:match('"orderId":"([^"]+)"')
    local token = body:match('"paymentToken":"([^"]+)"')
    if buyer and order and token then
      tail = tail + 1
      q[tail] = { buyer = buyer, order = order, token = token }
    end
  end
end
