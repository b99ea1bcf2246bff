-- Order creation: every request holds one unit for the next buyer (POST /v1/sales/{sale}/orders).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function request()
  return wrk.format("POST", "/v1/sales/" .. sale .. "/orders", headers((next_buyer())), '{"quantity":1}')
end

function response(status, hdrs, body)
  count(status)
end
