-- collectpool.lua (fenced): forget a pool no config names (one served by
-- default_pool_config, or removed from the config) once nothing is left of
-- it, so distinct image names cannot grow Redis without bound. Reconcile asks
-- only for a pool with no record, no claim waiting and nothing to create;
-- this script checks again, atomically, that its indexes are empty and that
-- it is not shut down (a shut-down pool keeps its flag).
--
-- @keys pool ready creating in_use pool_deleting lock pools dynamic
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs
-- ARGV[1] fence token   ARGV[2] pool
-- Returns {0, "collected"|"kept"}; {6} not leader.
-- @lib
-- @state
local pk = given_pool_keys()
local token, pool = ARGV[1], ARGV[2]
if not is_leader(token) then return { NOT_LEADER } end
if redis.call('LLEN', pk.ready) > 0 or redis.call('ZCARD', pk.creating) > 0
    or redis.call('ZCARD', pk.in_use) > 0 or redis.call('ZCARD', pk.deleting) > 0
    or redis.call('HGET', pk.hash, 'shutdown') == '1' then
  return { OK, 'kept' }
end
redis.call('DEL', pk.hash, pk.ready, pk.creating, pk.in_use, pk.deleting)
redis.call('SREM', K_POOLS, pool)
redis.call('SREM', K_DYNAMIC, pool)
return { OK, 'collected' }
