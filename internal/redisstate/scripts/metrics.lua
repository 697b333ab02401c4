-- metrics.lua: every pool's counts and counters in one round trip (read only).
--
-- @keys dead_events manager all creating_all pools events
--   dead_events: the dead letter STREAM
-- ARGV[1..]   pool names to include besides every pool in the pools SET
-- Returns {0, manager shutdown ("1"|"0"), total records, creating total,
--          outbox entries, dead letters, outbox trimmed to ("" never),
--          {name, ready, creating, in_use, deleting, pool HGETALL}, ...}
-- @lib
-- @state
local names, seen = {}, {}
for i = 1, #ARGV do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; names[#names + 1] = ARGV[i] end
end
for _, n in ipairs(redis.call('SMEMBERS', K_POOLS)) do
  if not seen[n] then seen[n] = true; names[#names + 1] = n end
end
local m = redis.call('HMGET', K_MANAGER, 'shutdown', 'events_trimmed_to')
local out = { OK, m[1] or '0', redis.call('ZCARD', K_ALL), redis.call('ZCARD', K_CREATING_ALL),
  redis.call('XLEN', K_EVENTS), redis.call('XLEN', K_DEAD_EVENTS), m[2] or '' }
for _, n in ipairs(names) do
  local pk = pool_keys(n)
  out[#out + 1] = { n, redis.call('LLEN', pk.ready), redis.call('ZCARD', pk.creating),
    redis.call('ZCARD', pk.in_use), redis.call('ZCARD', pk.deleting), redis.call('HGETALL', pk.hash) }
end
return out
