-- A concert of TIERS price tiers (sales tier-1 … tier-N): each request orders one seat in the
-- next tier, round robin, for the next buyer (POST /v1/sales/{tier}/orders).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
local tiers = tonumber(os.getenv("TIERS") or "4")
local prefix = os.getenv("SALE_PREFIX") or "tier-"

function request()
  local index = next_buyer()
  return wrk.format("POST", "/v1/sales/" .. prefix .. (index % tiers + 1) .. "/orders", headers(index), '{"quantity":1}')
end

function response(status, hdrs, body)
  count(status)
end
