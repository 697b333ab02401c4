-- dump.lua: the raw indexes and records of one deployment, in one
-- consistent read, for CheckInvariants (tests and simulations only: the
-- store never loads it). It knows no key name: the caller passes each from
-- the store's own layout.
--
-- KEYS[1] all ids        KEYS[2] creating ids, all pools   KEYS[3] deleting ids, all pools
-- KEYS[4] pool names     KEYS[5] pending claim hashes      KEYS[6] the manager hash
-- ARGV[1] glob matching every sandbox record key   ARGV[2] pool key prefix
-- ARGV[3] claim key prefix
-- ARGV[4..8] the suffixes of a pool's ready, creating, in_use and deleting keys
--            and of its hash
-- Returns {0, all ids, creating_all ids, deleting_all ids, pending claim hashes,
--          {{name, ready list, creating ids, in_use ids, deleting ids, pool HGETALL}, ...},
--          {{record key, HGETALL}, ...} every sandbox record found by the glob,
--          {{claim hash, claim HGETALL}, ...} the pending claims,
--          manager shutdown ("1"|"0")}
local pool_prefix, claim_prefix = ARGV[2], ARGV[3]
local pools = {}
for _, n in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local base = pool_prefix .. n
  pools[#pools + 1] = { n, redis.call('LRANGE', base .. ARGV[4], 0, -1), redis.call('ZRANGE', base .. ARGV[5], 0, -1),
    redis.call('ZRANGE', base .. ARGV[6], 0, -1), redis.call('ZRANGE', base .. ARGV[7], 0, -1),
    redis.call('HGETALL', base .. ARGV[8]) }
end
local records = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  records[#records + 1] = { k, redis.call('HGETALL', k) }
end
local claims = {}
local pending = redis.call('ZRANGE', KEYS[5], 0, -1)
for _, h in ipairs(pending) do
  claims[#claims + 1] = { h, redis.call('HGETALL', claim_prefix .. h) }
end
return { 0, redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('ZRANGE', KEYS[2], 0, -1),
  redis.call('ZRANGE', KEYS[3], 0, -1), pending, pools, records, claims,
  redis.call('HGET', KEYS[6], 'shutdown') or '0' }
