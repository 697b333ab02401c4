-- collectpool.lua (fenced): forget a pool no config names (one served by
-- default_pool_config, or removed from the config) once nothing is left of
-- it, so distinct image names cannot grow Redis without bound. Reconcile asks
-- only for a pool with no record, no claim waiting and nothing to create;
-- this script checks again, atomically, that its indexes are empty and that
-- it is not shut down (a shut-down pool keeps its flag).
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9]     pool HASH           KEYS[10] pool ready LIST
-- KEYS[11]    pool creating ZSET  KEYS[12] pool in_use ZSET
-- KEYS[13]    pool deleting ZSET  KEYS[14] dynamic pools SET
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] pool
-- Returns {0, "collected"|"kept"}; {6} not leader.
-- @lib
-- @state
local pk = { hash = KEYS[9], ready = KEYS[10], creating = KEYS[11], in_use = KEYS[12], deleting = KEYS[13] }
local token, pool = ARGV[5], ARGV[6]
if not is_leader(token) then return { NOT_LEADER } end
if redis.call('LLEN', pk.ready) > 0 or redis.call('ZCARD', pk.creating) > 0
    or redis.call('ZCARD', pk.in_use) > 0 or redis.call('ZCARD', pk.deleting) > 0
    or redis.call('HGET', pk.hash, 'shutdown') == '1' then
  return { OK, 'kept' }
end
redis.call('DEL', pk.hash, pk.ready, pk.creating, pk.in_use, pk.deleting)
redis.call('SREM', K_POOLS, pool)
redis.call('SREM', KEYS[14], pool)
return { OK, 'collected' }
