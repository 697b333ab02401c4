-- updatepool.lua (fenced): a reconcile pass's bookkeeping for one pool.
--
-- @keys pool ready creating in_use pool_deleting lock manager pools dynamic
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs
-- ARGV[1] fence token   ARGV[2] pool   ARGV[3] now (unix ms)
-- ARGV[4] last scale-down at (unix ms; "" leave)
-- ARGV[5] last health check at (unix ms; "" leave)
-- ARGV[6] below target since (unix ms; "" leave; "0" clear and record a
--          refill-lag sample when it was set; otherwise set unless already set,
--          so the earliest time is kept)
-- ARGV[7] deploy time p90 (ms; "" leave)   ARGV[8] auto target ("" leave)
-- ARGV[9] auto target's reason
-- ARGV[10] max_ready to record ("" leave): cancelclaim and markready read it
-- ARGV[11] "1": the pool belongs in the dynamic pools SET (default_pool_config
--          serves it), "0": it does not (a config lists it), "" leave
-- ARGV[12..] health results: sandbox id, "1" healthy | "0" unhealthy, ...
--          (only ready sandboxes of this pool are touched)
-- Returns {0}; {6} not leader.
-- @lib
-- @state
local pk = given_pool_keys()
local token, pool, now_s = ARGV[1], ARGV[2], ARGV[3]
local scale_down_at, health_at, below = ARGV[4], ARGV[5], ARGV[6]
local now = tonumber(now_s)
if not is_leader(token) then return { NOT_LEADER } end
touch_pool(pool, pk, now_s)
if scale_down_at ~= '' then redis.call('HSET', pk.hash, 'last_scale_down_at', scale_down_at) end
if health_at ~= '' then redis.call('HSET', pk.hash, 'last_health_check_at', health_at) end
if below == '0' then
  local since = num(redis.call('HGET', pk.hash, 'below_target_since'))
  if since > 0 then
    redis.call('HDEL', pk.hash, 'below_target_since')
    redis.call('HINCRBY', pk.hash, 'refill_lag_ms_sum', fmt_int(math.max(now - since, 0)))
    redis.call('HINCRBY', pk.hash, 'refill_lag_samples', 1)
  end
elseif below ~= '' then
  redis.call('HSETNX', pk.hash, 'below_target_since', below)
end
if ARGV[7] ~= '' then redis.call('HSET', pk.hash, 'deploy_p90_ms', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', pk.hash, 'auto_target', ARGV[8], 'auto_why', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', pk.hash, 'max_ready', ARGV[10]) end
if ARGV[11] == '1' then redis.call('SADD', K_DYNAMIC, pool) elseif ARGV[11] == '0' then redis.call('SREM', K_DYNAMIC, pool) end
for i = 12, #ARGV, 2 do
  local sk = SB_PREFIX .. ARGV[i]
  local r = redis.call('HMGET', sk, 'state', 'pool')
  if r[1] == 'ready' and r[2] == pool then
    if ARGV[i + 1] == '1' then
      redis.call('HSET', sk, 'last_healthy_at', now_s, 'health_failures', '0')
    else
      redis.call('HINCRBY', sk, 'health_failures', 1)
    end
  end
end
return { OK }
