--[[
  putLimits: install a new version of the rate-limit policies and record it in the history.

  KEYS[1] current  rg:{limits}:current  (hash: version, policies, updatedAt)
  KEYS[2] history  rg:{limits}:history  (list, newest first, at most ARGV[3] entries)

  ARGV[1] policies         JSON (validated by the caller)
  ARGV[2] changes          what changed, JSON (for the history)
  ARGV[3] historyKept      history length kept
  ARGV[4] expectedVersion  ('' = any): a stale writer is refused

  Dry-run counts are kept per version in each sale's admission hash, so a new version starts at
  zero without touching every sale.

  Returns { 0 OK, version, updatedAtMs }  { 25 VERSION_CONFLICT, current version }
]]
local rcall = redis.call
-- @include now
local currentKey, historyKey = KEYS[1], KEYS[2]
local policies, changes, keep, expected = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local current = tonumber(rcall('HGET', currentKey, 'version') or '0')
if expected ~= '' and tonumber(expected) ~= current then return { 25, current } end
local nowMs = redisNowMs()
local version = current + 1
rcall('HSET', currentKey, 'version', version, 'policies', policies, 'updatedAt', nowMs)
rcall('LPUSH', historyKey, cjson.encode({ version = version, at = nowMs, policies = cjson.decode(policies), changes = cjson.decode(changes) }))
rcall('LTRIM', historyKey, 0, keep - 1)
return { 0, version, nowMs }
