-- dump.lua: the raw indexes and records, in one consistent read, for
-- CheckInvariants (tests and simulations; not a production path).
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] glob pattern matching every sandbox record key (prefix escaped)
-- Returns {0, all ids, creating_all ids, deleting_all ids, pending claim hashes,
--          {{name, ready list, creating ids, in_use ids, deleting ids, pool HGETALL}, ...},
--          {{record key, HGETALL}, ...} every sandbox record found by pattern,
--          {{claim hash, claim HGETALL}, ...} the pending claims,
--          manager shutdown ("1"|"0")}
-- @lib
-- @state
local pools = {}
for _, n in ipairs(redis.call('SMEMBERS', K_POOLS)) do
  local pk = pool_keys(n)
  pools[#pools + 1] = { n, redis.call('LRANGE', pk.ready, 0, -1), redis.call('ZRANGE', pk.creating, 0, -1),
    redis.call('ZRANGE', pk.in_use, 0, -1), redis.call('ZRANGE', pk.deleting, 0, -1),
    redis.call('HGETALL', pk.hash) }
end
local records = {}
for _, k in ipairs(redis.call('KEYS', ARGV[5])) do
  records[#records + 1] = { k, redis.call('HGETALL', k) }
end
local claims = {}
local pending = redis.call('ZRANGE', K_CLAIMS, 0, -1)
for _, h in ipairs(pending) do
  claims[#claims + 1] = { h, redis.call('HGETALL', CLAIM_PREFIX .. h) }
end
return { OK, redis.call('ZRANGE', K_ALL, 0, -1), redis.call('ZRANGE', K_CREATING_ALL, 0, -1),
  redis.call('ZRANGE', K_DELETING_ALL, 0, -1), pending, pools, records, claims,
  redis.call('HGET', K_MANAGER, 'shutdown') or '0' }
