-- One request, the same every time, built once (no request() or response() in Lua, so wrk spends
-- as little CPU as it can): the scenarios that measure the cost of refusing, and the no-op route
-- they are compared with.
--   noop:    GET /healthz, through the same HTTP stack and app middleware, no auth, body or store
--   post:    an order's POST (the same headers and body) sent to /healthz, which answers it 404 from
--            the app's not-found handler: what the request itself costs, with no route or
--            buyer-path work (the app's middleware and its 404 still run)
--   soldout: POST an order for a sold-out sale (SALE), as one buyer (JWT_FILE's first line)
--   refused: POST an order as one buyer over its order limit
-- The codes are checked before the run (checkout.sh); wrk counts non-2xx and socket errors.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local target = os.getenv("TARGET")
if target == "order" or target == "post" then
  local jwt = io.lines(os.getenv("JWT_FILE"))()
  wrk.method = "POST"
  wrk.path = target == "post" and "/healthz" or "/v1/sales/" .. sale .. "/orders"
  wrk.body = '{"quantity":1}'
  wrk.headers["Authorization"] = "Bearer " .. jwt
  wrk.headers["Content-Type"] = "application/json"
else
  wrk.path = "/healthz"
end

init = nil
request = nil
response = nil
