-- The sale replay's buyers (npm run bench:sale; loadtest/bench/sale.ts starts wrk with this).
-- Every buyer orders once; a buyer whose order is held (201) pays it with the wallet; a buyer
-- refused (409 sold_out, ...) is done. Each thread walks its own slice of buyers, whose JWTs
-- were minted beforehand, one a line, into JWT_PREFIX .. <thread number> .. ".txt".
--
-- The order's X-Request-Id ("o<i>_…") and the payment's ("p<i>_…") are echoed by the gateway, so a
-- response is tied to its buyer and its kind. When a thread has nothing to send, the connection
-- is parked (an empty request writes nothing). A thread stops once each of its buyers has
-- ordered, every payment it owes is sent and every answer is in.
--
-- Lines on stdout (flushed at once), read by sale.ts:
--   READY <thread> <buyers>         the thread has loaded its JWTs; once every thread is ready,
--                                  sale.ts creates GO_FILE, and the threads start together
--   FIRST <thread> <epoch ms>       the thread's first request
--   DONE <thread> <epoch ms> <counts>  the thread is finished
--   SUMMARY <counts>               done(): all threads (counts of threads that finished)
-- counts: orders=N pays=N o201=N o409=N ... p202=N ... s5xx=N other=N
local threads = {}
local sale = os.getenv("SALE") or "replay"
local prefix = os.getenv("JWT_PREFIX") or "jwts-"
local limit = tonumber(os.getenv("BUYER_LIMIT") or "")
local go_file = os.getenv("GO_FILE")

local have_ffi, ffi = pcall(require, "ffi")
local now_ms
if have_ffi then
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_usec; } rushgate_timeval;
    int gettimeofday(rushgate_timeval *tv, void *tz);
  ]]
  local tv = ffi.new("rushgate_timeval")
  now_ms = function()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
  end
else
  now_ms = function() return -1 end -- sale.ts then uses the moment it reads the line
end

-- waits (once, before a thread's first request) until sale.ts has seen every thread loaded
local function wait_for_go()
  if not go_file then return end
  local pause = have_ffi and pcall(ffi.cdef, "int usleep(unsigned int usec);")
  while true do
    local f = io.open(go_file, "r")
    if f then
      f:close()
      return
    end
    if pause then ffi.C.usleep(1000) end
  end
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads - 1)
end

-- The thread's JWTs stay in ONE string, with the offsets of its lines in an FFI array, instead
-- of a million small strings: loading is quicker, and the garbage collector has a few objects to
-- walk, not millions.
local data, starts
counts = { orders = 0, pays = 0, s5xx = 0 }
local n, cursor, inflight, finished, started, probed = 0, 0, 0, false, false, false
local q, head, tail = {}, 1, 0 -- payment requests, ready to send

function init(args)
  local f = assert(io.open(prefix .. tid .. ".txt", "rb"))
  data = f:read("*a")
  f:close()
  if #data > 0 and data:sub(-1) ~= "\n" then data = data .. "\n" end
  local lines, pos = 0, 1
  while true do
    local nl = data:find("\n", pos, true)
    if not nl then break end
    lines, pos = lines + 1, nl + 1
  end
  if limit and lines > limit then lines = limit end
  starts = have_ffi and ffi.new("int32_t[?]", lines + 2) or {}
  pos = 1
  for i = 1, lines do
    starts[i] = pos
    pos = data:find("\n", pos, true) + 1
  end
  starts[lines + 1] = pos
  n = lines
  io.write(string.format("READY %d %d\n", tid, n))
  io.flush()
end

-- buyer i's JWT (1 <= i <= n)
local function jwt(i)
  return data:sub(starts[i], starts[i + 1] - 2)
end

local function bump(key)
  counts[key] = (counts[key] or 0) + 1
end

-- "o201", "p202", ...: made once per status, not once per answer
local order_keys, pay_keys = {}, {}
local function status_key(keys, kind, status)
  local k = keys[status]
  if not k then
    k = kind .. status
    keys[status] = k
  end
  return k
end

local function format_counts(c)
  local keys = {}
  for k in pairs(c) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. c[k] end
  return table.concat(parts, " ")
end

local function say(line)
  io.write(line, "\n")
  io.flush()
end

local function finish()
  if finished then return end
  finished = true
  say(string.format("DONE %d %.3f %s", tid, now_ms(), format_counts(counts)))
  wrk.thread:stop()
end

-- Requests are written by hand, not with wrk.format: LuaJIT (OpenResty's branch, as packaged)
-- hashes a long string from samples of its first half and its last 8 bytes, and wrk.format's
-- requests differ only late (the JWT after the fixed headers), so they all fell into a few hash
-- chains and wrk spent most of its CPU walking them. Here the first header is X-Request-Id with
-- 24 random characters (the end of the buyer's JWT signature) right after the request line.
-- Building one costs about 0.2 us, whether by this concatenation or as a substring of requests
-- built in init (measured inside wrk's LuaJIT), so nothing is gained by building them all first.
local host = (wrk.host or "127.0.0.1") .. (wrk.port and (":" .. wrk.port) or "")

local function order_request(i)
  local token = jwt(i)
  return "POST /v1/sales/" .. sale .. "/orders HTTP/1.1\r\nX-Request-Id: o" .. i .. "_" .. token:sub(-24) ..
    "\r\nAuthorization: Bearer " .. token .. "\r\nHost: " .. host ..
    "\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"quantity\":1}"
end

local function payment_request(buyer, order, payment_token)
  local token = jwt(buyer)
  local body = '{"paymentToken":"' .. payment_token .. '","method":"wallet"}'
  return "POST /v1/orders/" .. order .. "/payments HTTP/1.1\r\nX-Request-Id: p" .. buyer .. "_" .. token:sub(-24) ..
    "\r\nAuthorization: Bearer " .. token .. "\r\nHost: " .. host ..
    "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function request()
  if not probed and tid == 0 then
    -- wrk (4.x) calls thread 0's request() once, before the run, to count pipelined requests,
    -- and never sends that one. Answer it without spending a buyer; were it sent after all, its
    -- answer ("v") is counted apart.
    probed = true
    return wrk.format("GET", "/healthz", { ["X-Request-Id"] = "v0" })
  end
  if not started then
    started = true
    wait_for_go()
    say(string.format("FIRST %d %.3f", tid, now_ms()))
  end
  if head <= tail then
    local r = q[head]
    q[head] = nil
    head = head + 1
    inflight = inflight + 1
    counts.pays = counts.pays + 1
    return r
  end
  if cursor < n then
    cursor = cursor + 1
    inflight = inflight + 1
    counts.orders = counts.orders + 1
    return order_request(cursor)
  end
  if inflight == 0 then finish() end
  return "" -- nothing to send now: this connection waits, another one's answer may bring a payment
end

-- The answers are read without patterns (string.match): LuaJIT compiles none of them, so each
-- answer fell back to the interpreter; plain find, byte and sub compile. About 1 us less per
-- answer, out of wrk's 20-30 us per request (most of which is wrk's own C and its syscalls).

-- the value of "key":"…" in a JSON body, as '"key":"([^"]+)"' would match it
local function field(body, key)
  local a = body:find(key, 1, true)
  if not a then return nil end
  a = a + #key
  local b = body:find('"', a, true)
  if not b or b == a then return nil end
  return body:sub(a, b - 1)
end

local O, P, V = string.byte("o"), string.byte("p"), string.byte("v")

function response(status, hdrs, body)
  local id = hdrs["x-request-id"] or hdrs["X-Request-Id"] or ""
  -- "o<i>_…", "p<i>_…" or "v0": the kind, then a digit (as "^([opv])(%d+)" would match)
  local kind, digit = id:byte(1, 2)
  if not digit or digit < 48 or digit > 57 then kind = nil end
  if kind == V then
    bump("probe" .. status)
    return
  end
  inflight = inflight - 1
  if status >= 500 then counts.s5xx = counts.s5xx + 1 end
  if kind == O then
    bump(status_key(order_keys, "o", status))
    if status == 201 then
      local order = field(body, '"orderId":"')
      local token = field(body, '"paymentToken":"')
      local cut = id:find("_", 3, true) -- the buyer's number: between the kind and "_"
      local buyer = tonumber(id:sub(2, cut and cut - 1 or -1))
      if order and token and buyer and buyer >= 1 and buyer <= n then
        -- built now, sent by the next request() of this thread
        tail = tail + 1
        q[tail] = payment_request(buyer, order, token)
      else
        bump("o201_unparsed")
      end
    end
  elseif kind == P then
    bump(status_key(pay_keys, "p", status))
  else
    bump("other")
  end
  if cursor >= n and head > tail and inflight == 0 then finish() end
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    if type(c) == "table" then
      for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
    end
  end
  local e = summary.errors
  io.write(string.format("SUMMARY %s requests=%d sockerr=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    format_counts(all), summary.requests, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
