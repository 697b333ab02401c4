-- setshutdown.lua: shut a pool (or, with pool "", the whole manager) down, or
-- start it again. Not fenced: an admin action; reconcile then drains.
--
-- @keys pool ready creating in_use pool_deleting dynamic manager pools events
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs (any keys when ARGV[1] is "")
-- ARGV[1] pool ("" manager)   ARGV[2] "1" shut down | "0" start   ARGV[3] now (unix ms)
-- ARGV[4] "1" when default_pool_config serves the pool   ARGV[5] max_dynamic_pools
-- A dynamic pool Redis does not know is not written by a start (there is
-- nothing to start), and a shutdown writes it only within max_dynamic_pools,
-- so arbitrary names cannot grow Redis.
-- The manager's flag is copied to every pool HASH as manager_shutdown.
-- Returns {0, "changed"|"unchanged"}; {11, max} too many dynamic pools.
-- Events: pool.shutdown, pool.started, pool.drained (already empty).
-- @lib
-- @state
local pool, flag, now_s = ARGV[1], ARGV[2], ARGV[3]
local dynamic, max_dynamic = ARGV[4] == '1', tonumber(ARGV[5])
local target = K_MANAGER
local pk
if pool ~= '' and dynamic and redis.call('SISMEMBER', K_POOLS, pool) == 0 then
  if flag == '0' then return { OK, 'unchanged' } end
  if redis.call('SCARD', K_DYNAMIC) >= max_dynamic then return { TOO_MANY_POOLS, fmt_int(max_dynamic) } end
  redis.call('SADD', K_DYNAMIC, pool)
end
if pool ~= '' then
  pk = given_pool_keys()
  touch_pool(pool, pk, now_s)
  target = pk.hash
end
local was = redis.call('HGET', target, 'shutdown') or '0'
if was == flag then return { OK, 'unchanged' } end
redis.call('HSET', target, 'shutdown', flag, 'shutdown_at', now_s)
if not pk then
  -- Every pool's mirror of the manager flag, read by the warm acquire.
  for _, name in ipairs(redis.call('SMEMBERS', K_POOLS)) do
    redis.call('HSET', pool_keys(name).hash, 'manager_shutdown', flag)
  end
end
if flag == '1' then
  emit('pool.shutdown', pool, '', now_s, '')
  if pk then
    maybe_drained(pool, pk, now_s)
  else
    for _, name in ipairs(redis.call('SMEMBERS', K_POOLS)) do
      maybe_drained(name, pool_keys(name), now_s)
    end
  end
else
  redis.call('HDEL', target, 'shutdown_at')
  -- A start makes the pool (or every pool) active, as the seed's start()
  -- does: its idle clock restarts and reconcile fills it.
  if pk then
    redis.call('HSET', pk.hash, 'activated_at', now_s)
  else
    for _, name in ipairs(redis.call('SMEMBERS', K_POOLS)) do
      redis.call('HSET', pool_keys(name).hash, 'activated_at', now_s)
    end
  end
  emit('pool.started', pool, '', now_s, '')
end
return { OK, 'changed' }
