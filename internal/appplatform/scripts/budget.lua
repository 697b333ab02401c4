-- budget.lua: the shared DigitalOcean API budget of one deployment.
--
-- Two exact sliding windows (a minute and an hour) kept as ring buffers of
-- the timestamps of the last per_minute / per_hour calls: a call may go when
-- the call per_minute calls ago (per_hour calls ago) is older than a minute
-- (an hour). So no sliding window ever holds more calls than its limit, and a
-- burst up to the limit is allowed. On top: the pause set by a 429's
-- Retry-After, and the last RateLimit-Remaining/Reset the API reported.
--
-- KEYS[1] -> the budget HASH (redisstate.Keys.Budget). Fields:
--            m_size, m_head, m:<i>   minute ring (timestamps, ms)
--            h_size, h_head, h:<i>   hour ring (timestamps, ms)
--            last                    newest timestamp written (ms); rings stay ordered
--            pause_until             no call before this (ms)
--            rl_remaining, rl_reset  last RateLimit-Remaining, RateLimit-Reset (ms)
-- ARGV[1] -> op: "take" | "observe" | "pause" | "peek"
-- ARGV[2] -> now (unix ms, from the caller's clock)
-- ARGV[3] -> per_minute limit
-- ARGV[4] -> per_hour limit
-- ARGV[5] -> take: n calls; observe: RateLimit-Remaining; pause: until (ms)
-- ARGV[6] -> observe: RateLimit-Reset (ms)
-- Output:
--   take:    {1, 0} taken; {0, wait_until_ms} not before then; {-1, 0} n can never fit
--   observe, pause: {1, 0}
--   peek:    {free_minute, free_hour, pause_until_ms, rl_remaining (-1 unknown), rl_reset_ms}
local key = KEYS[1]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local per_min = tonumber(ARGV[3])
local per_hour = tonumber(ARGV[4])
local arg = tonumber(ARGV[5])
local arg2 = tonumber(ARGV[6])

local MINUTE = 60000
local HOUR = 3600000

local function num(field, default)
  local v = redis.call('HGET', key, field)
  if v then return tonumber(v) end
  return default
end

-- The timestamp in slot i of ring w, or nil when never written.
local function slot(w, i)
  local v = redis.call('HGET', key, w .. ':' .. i)
  if v then return tonumber(v) end
  return nil
end

-- The head (oldest slot) of ring w; a ring whose limit changed starts empty.
local function ring(w, size)
  local old = num(w .. '_size', 0)
  if old ~= size then
    for i = 0, old - 1 do redis.call('HDEL', key, w .. ':' .. i) end
    redis.call('HSET', key, w .. '_size', size)
    redis.call('HSET', key, w .. '_head', 0)
    return 0
  end
  return num(w .. '_head', 0)
end

-- Free slots of ring w at now: the ring is ordered oldest first from its head,
-- so binary-search the first slot still inside the period.
local function free(w, size, period)
  if num(w .. '_size', 0) ~= size then return size end
  local head = num(w .. '_head', 0)
  local lo, hi = 0, size
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local t = slot(w, (head + mid) % size)
    if t and t + period > now then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function keep(until_ms)
  redis.call('PEXPIRE', key, math.max(HOUR, until_ms - now) + MINUTE)
end

if op == 'take' then
  local n = arg
  if n < 1 or n > per_min or n > per_hour then return {-1, 0} end
  local wait = 0
  local pause = num('pause_until', 0)
  if pause > now then wait = pause end
  local rl_rem = num('rl_remaining', -1)
  local rl_reset = num('rl_reset', 0)
  if rl_rem >= 0 and rl_rem < n and rl_reset > now then wait = math.max(wait, rl_reset) end
  local mh = ring('m', per_min)
  local hh = ring('h', per_hour)
  local mt = slot('m', (mh + n - 1) % per_min)
  if mt and mt + MINUTE > now then wait = math.max(wait, mt + MINUTE) end
  local ht = slot('h', (hh + n - 1) % per_hour)
  if ht and ht + HOUR > now then wait = math.max(wait, ht + HOUR) end
  if wait > 0 then return {0, wait} end
  local t = math.max(now, num('last', 0))
  for i = 0, n - 1 do
    redis.call('HSET', key, 'm:' .. ((mh + i) % per_min), t)
    redis.call('HSET', key, 'h:' .. ((hh + i) % per_hour), t)
  end
  redis.call('HSET', key, 'm_head', (mh + n) % per_min)
  redis.call('HSET', key, 'h_head', (hh + n) % per_hour)
  redis.call('HSET', key, 'last', t)
  if rl_rem >= 0 then redis.call('HSET', key, 'rl_remaining', math.max(rl_rem - n, 0)) end
  keep(pause)
  return {1, 0}
elseif op == 'observe' then
  redis.call('HSET', key, 'rl_remaining', arg)
  redis.call('HSET', key, 'rl_reset', arg2)
  keep(num('pause_until', 0))
  return {1, 0}
elseif op == 'pause' then
  local pause = math.max(num('pause_until', 0), arg)
  redis.call('HSET', key, 'pause_until', pause)
  keep(pause)
  return {1, 0}
elseif op == 'peek' then
  return {free('m', per_min, MINUTE), free('h', per_hour, HOUR), num('pause_until', 0),
    num('rl_remaining', -1), num('rl_reset', 0)}
end
return redis.error_reply('budget.lua: unknown op ' .. tostring(op))
