--[[
  countDryRunRefusal: count one request a dry-run policy that names no sale (others.perUser)
  would have refused, under the policies' version in force. GET /admin/limits sums these with
  the per-sale counts the checkout scripts keep.

  KEYS[1] dryRun  rg:{limits}:dryrun:v<version>  (hash policy -> would-be refusals)

  ARGV[1] policy  the policy's path, e.g. others.perUser

  Returns { 0 OK, would-be refusals of the policy so far }
]]
local rcall = redis.call
local dryRunKey, policy = KEYS[1], ARGV[1]
return { 0, rcall('HINCRBY', dryRunKey, policy, 1) }
