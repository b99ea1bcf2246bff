-- saleChange: what a put of `given` would write to a sale, judged on the sale as it is: the
-- fields to set (a new sale's defaults included) and whether it creates the sale, or the refusal
-- it answers instead. checkSale asks it before the sale is listed; putSale asks it again and writes.
local function saleChange(saleKey, defaults, given, nowMs)
  local cur = rcall('HMGET', saleKey, 'stock', 'held', 'sold', 'price', 'currency', 'orders',
    'opensAt', 'closesAt')
  local created = 0
  local fields = {}
  if not cur[1] then
    if given.stock == nil or given.price == nil or given.currency == nil then return { 19 } end
    created = 1
    fields = { held = 0, sold = 0, orders = 0, createdAt = nowMs, name = defaults.name,
      perUserLimit = defaults.perUserLimit, holdSeconds = defaults.holdSeconds,
      opensAt = nowMs, closesAt = '' }
  else
    local committed = tonumber(cur[2]) + tonumber(cur[3])
    if given.stock ~= nil and given.stock < committed then return { 16, committed } end
    if tonumber(cur[6]) > 0 and ((given.price ~= nil and given.price ~= tonumber(cur[4])) or
        (given.currency ~= nil and given.currency ~= cur[5])) then
      return { 17 }
    end
    fields.opensAt, fields.closesAt = tonumber(cur[7]), tonumber(cur[8]) or ''
  end
  for k, v in pairs(given) do
    if v == cjson.null then v = '' end
    fields[k] = v
  end
  if fields.closesAt ~= '' and fields.closesAt <= fields.opensAt then return { 18 } end
  return nil, created, fields
end
