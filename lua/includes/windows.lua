-- countWindows: the buyer's and the address's fixed windows that guard this sale, on Redis time.
-- Every window in use counts the attempt (as @upstash/ratelimit's fixed window does), so a buyer
-- who keeps trying stays refused until the window resets. A window's key expires at the end of
-- its window, so the count starts again from zero there.
--   windowKeys  { buyer window key, address window key }  (all in the sale's slot)
--   args        ARGV from `at`: for each window, limit ('' = not in use), window ms, dry run ('1')
--   dryKey      hash where dry-run windows count their would-be refusals, field dryPrefix.<scope>
-- Returns nil when admitted, or the refusing scope ('perUser' | 'perAddress') and the ms until
-- its window resets.
local windowScopes = { 'perUser', 'perAddress' }
local function countWindows(windowKeys, args, at, nowMs, dryKey, dryPrefix)
  local refusedScope, refusedResetMs
  for i = 1, 2 do
    local limit = tonumber(args[at + (i - 1) * 3])
    if limit then
      local windowMs = tonumber(args[at + (i - 1) * 3 + 1])
      local dryRun = args[at + (i - 1) * 3 + 2] == '1'
      local resetAt = (math.floor(nowMs / windowMs) + 1) * windowMs
      local count = rcall('INCR', windowKeys[i])
      if count == 1 then rcall('PEXPIREAT', windowKeys[i], resetAt) end
      if count > limit then
        if dryRun then
          rcall('HINCRBY', dryKey, dryPrefix .. '.' .. windowScopes[i], 1)
        elseif not refusedScope then
          refusedScope, refusedResetMs = windowScopes[i], resetAt - nowMs
        end
      end
    end
  end
  return refusedScope, refusedResetMs
end
