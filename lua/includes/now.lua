-- redisNowMs: Redis server time in ms. Windows and deadlines use it, never an instance clock.
local function redisNowMs()
  local time = rcall('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
