-- updatepool.lua (fenced): a reconcile pass's bookkeeping for one pool.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9]     pool HASH           KEYS[10] pool ready LIST
-- KEYS[11]    pool creating ZSET  KEYS[12] pool in_use ZSET
-- KEYS[13]    pool deleting ZSET
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] pool   ARGV[7] now (unix ms)
-- ARGV[8] last scale-down at (unix ms; "" leave)
-- ARGV[9] last health check at (unix ms; "" leave)
-- ARGV[10] below target since (unix ms; "" leave; "0" clear and record a
--          refill-lag sample when it was set; otherwise set unless already set,
--          so the earliest time is kept)
-- ARGV[11] deploy time p90 (ms; "" leave)   ARGV[12] auto target ("" leave)
-- ARGV[13] auto target's reason
-- ARGV[14..] health results: sandbox id, "1" healthy | "0" unhealthy, ...
--          (only ready sandboxes of this pool are touched)
-- Returns {0}; {6} not leader.
-- @lib
-- @state
local pk = { hash = KEYS[9], ready = KEYS[10], creating = KEYS[11], in_use = KEYS[12], deleting = KEYS[13] }
local token, pool, now_s = ARGV[5], ARGV[6], ARGV[7]
local scale_down_at, health_at, below = ARGV[8], ARGV[9], ARGV[10]
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
if ARGV[11] ~= '' then redis.call('HSET', pk.hash, 'deploy_p90_ms', ARGV[11]) end
if ARGV[12] ~= '' then redis.call('HSET', pk.hash, 'auto_target', ARGV[12], 'auto_why', ARGV[13]) end
for i = 14, #ARGV, 2 do
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
