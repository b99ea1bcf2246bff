-- Order-then-pay flow, like the nginx peer's flow.lua: each 201 order queues its (buyer, order,
-- token); the next request on this thread pays it with the wallet; otherwise a new order.
-- Every connection alternates order, pay, order, pay, ... and the latency mixes both endpoints.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local q, head, tail = {}, 1, 0

function request()
  if head <= tail then
    local p = q[head]
    q[head] = nil
    head = head + 1
    return wrk.format("POST", "/v1/orders/" .. p.order .. "/payments", headers(p.jwt),
      '{"paymentToken":"' .. p.token .. '","method":"wallet"}')
  end
  local jwt = next_jwt()
  last_jwt = jwt
  return wrk.format("POST", "/v1/sales/" .. sale .. "/orders", headers(jwt), '{"quantity":1}')
end

function response(status, hdrs, body)
  count(status)
  if status == 201 then
    local order = body:match('"orderId":"([^"]+)"')
    local token = body:match('"paymentToken":"([^"]+)"')
    if order and token then
      tail = tail + 1
      q[tail] = { order = order, token = token, jwt = last_jwt }
    end
  end
end
