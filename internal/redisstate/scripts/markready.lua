-- markready.lua (fenced): creating -> ready at the FIFO tail with its warm
-- deadline; a claim's sandbox goes straight to in_use for its claimant (lease
-- not yet handed, held until now + the claim's lease TTL). Resets the pool's
-- consecutive failures and its create backoff, and closes an open circuit: a
-- success ends the streak.
--
-- @keys sandbox lock manager creating_all deleting_all claims events
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] app id ("" keep)   ARGV[4] url
-- ARGV[5] warm deadline (unix ms)   ARGV[6] now (unix ms)
-- A failed claim's sandbox joins the ready list unless the pool already
-- holds max_ready (as a pass recorded it): then it is deleted.
-- Returns {0, "ready"|"claimed"|"surplus"}; {1} no record; {6} not leader; {8, state} not creating.
-- Events: sandbox.ready, pool.circuit_closed.
-- @lib
-- @state
local token, id, app_id, url, warm_deadline, now_s = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = tonumber(now_s)
local rec, refused = fenced_record(token, 'creating')
if not rec then return refused end
local sk = K_SANDBOX
local pk = pool_keys(rec.pool)

leave_creating(id, rec, pk)
redis.call('HSET', sk, 'url', url, 'ready_at', now_s, 'warm_deadline', warm_deadline, 'last_healthy_at', now_s)
if app_id ~= '' then redis.call('HSET', sk, 'app_id', app_id) end

local outcome = 'ready'
local claim_hash = rec.claim_hash or ''
local ck = CLAIM_PREFIX .. claim_hash
if claim_hash ~= '' and redis.call('HGET', ck, 'failed') == '0' then
  local ttl = num(redis.call('HGET', ck, 'lease_ttl_ms'))
  local exp = fmt_int(now + ttl)
  redis.call('HSET', sk, 'state', 'in_use', 'lease_expires_at', exp, 'lease_handed', '0')
  redis.call('ZADD', pk.in_use, exp, id)
  redis.call('ZREM', K_CLAIMS, claim_hash)
  -- served: the claimant polls within the lease; an hour's margin after it
  redis.call('PEXPIRE', ck, ttl + 3600000)
  outcome = 'claimed'
elseif claim_hash ~= '' and over_max_ready(pk) then
  -- A failed (or cancelled) claim's sandbox returns to a pool that is full
  -- (a pass refilled it meanwhile): it goes instead.
  to_deleting(id, pk, 'over_capacity', now_s)
  outcome = 'surplus'
else
  redis.call('HSET', sk, 'state', 'ready')
  redis.call('RPUSH', pk.ready, id)
end

local p = redis.call('HMGET', pk.hash, 'circuit_open_until')
redis.call('HSET', pk.hash, 'consecutive_failures', '0')
redis.call('HDEL', pk.hash, 'next_create_at')
if num(p[1]) > 0 then
  redis.call('HDEL', pk.hash, 'circuit_open_until', 'circuit_reason')
  emit('pool.circuit_closed', rec.pool, id, now_s, '')
end
if outcome ~= 'surplus' then emit('sandbox.ready', rec.pool, id, now_s, outcome) end
return { OK, outcome }
