-- Shared by the gateway's wrk scripts (loaded with dofile). Buyers' JWTs are minted before the
-- run (wrk's Lua has no HMAC) into JWT_FILE, one per line; each thread walks them round robin.
-- done() prints the same machine-readable line as the nginx peer's scripts:
--   RESULT rps=... p50_ms=... p99_ms=... max_ms=... requests=... non2xx=... sockerr=... codes=201:N,...
local threads = {}
sale = os.getenv("SALE") or "bench"
codes = {}
jwts = {}
cursor = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for line in io.lines(os.getenv("JWT_FILE")) do jwts[#jwts + 1] = line end
  -- threads start at different buyers so they do not share one buyer's limit
  cursor = math.floor(#jwts * ((tid or 1) - 1) / 8)
end

-- the next buyer: its index (sent as X-Request-Id, which the gateway echoes, so a response can
-- be tied to its buyer on a connection-multiplexed thread) and its JWT
function next_buyer()
  cursor = cursor % #jwts + 1
  return cursor, jwts[cursor]
end

function headers(index)
  return { ["Authorization"] = "Bearer " .. jwts[index], ["Content-Type"] = "application/json",
           ["X-Request-Id"] = "b" .. index }
end

function buyer_of(hdrs)
  local id = hdrs["x-request-id"] or hdrs["X-Request-Id"] or ""
  return tonumber(id:match("^b(%d+)$"))
end

function count(status)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  local all = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    if type(c) == "table" then
      for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
    end
  end
  local keys = {}
  for k in pairs(all) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. ":" .. all[k] end
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d codes=%s\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    #parts > 0 and table.concat(parts, ",") or "-"))
end
