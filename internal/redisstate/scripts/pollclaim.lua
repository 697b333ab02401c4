-- pollclaim.lua: answer a cold claim; once its sandbox is ready (held in_use
-- for the claim) hand the lease out, once; a repeat with the same lease hash
-- replays it.
--
-- @keys claim manager claims events
--   claim: the claim HASH
-- ARGV[1] lease token hash    ARGV[2] lease TTL (ms; 0: the claim's own)
-- ARGV[3] now (unix ms)       ARGV[4] cold histogram bucket bounds (ms, comma separated)
-- Returns {0, "claim", claim HGETALL} pending; {0, "cold"|"replay", sandbox HGETALL};
--         {1} unknown claim, its sandbox is gone, or it was cancelled;
--         {4} another lease hash;
--         {3} the shutdown failed the claim (between attempts, or its creating
--         sandbox condemned); {5} the handed lease expired; {7} every attempt
--         failed (or the claim's sandbox was condemned for another reason).
-- Events: sandbox.acquired (reason "cold").
-- @lib
-- @state
local lease_hash, ttl_s, now_s, bounds = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_s)

local c = hgetall(K_CLAIM)
if not c.hash then return { NOT_FOUND } end
if c.failed == '1' then
  -- A shutdown is not a creation failure: every poll says so.
  if c.fail_reason == 'shutdown' then return { SHUTDOWN } end
  -- Its claimant cancelled it: there is nothing left to poll.
  if c.fail_reason == 'cancelled' then return { NOT_FOUND } end
  return { CREATION_FAILED }
end
local id = c.sandbox_id or ''
if id == '' then
  -- Between attempts. A shut-down pool makes no further attempt, so the
  -- claim fails now rather than waiting forever.
  if shut_down(pool_keys(c.pool)) then
    fail_claim(c.hash, now_s, 'shutdown')
    return { SHUTDOWN }
  end
  return { OK, 'claim', redis.call('HGETALL', K_CLAIM) }
end
local sk = SB_PREFIX .. id
local r = redis.call('HMGET', sk, 'state', 'claim_hash', 'lease_handed', 'lease_hash', 'lease_expires_at')
if r[1] == 'creating' then return { OK, 'claim', redis.call('HGETALL', K_CLAIM) } end
if r[1] ~= 'in_use' or r[2] ~= c.hash then return { NOT_FOUND } end
if r[3] == '1' then
  if r[4] ~= lease_hash then return { LEASE_MISMATCH } end
  if num(r[5]) <= now then return { LEASE_EXPIRED } end
  return { OK, 'replay', redis.call('HGETALL', sk) }
end

local ttl = tonumber(ttl_s)
if ttl <= 0 then ttl = num(c.lease_ttl_ms) end
local exp = fmt_int(now + ttl)
local pk = pool_keys(c.pool)
redis.call('HSET', sk, 'acquired_at', now_s, 'lease_expires_at', exp, 'lease_hash', lease_hash, 'lease_handed', '1')
redis.call('ZADD', pk.in_use, exp, id)

-- The cold acquire is counted now, when it is served: latency from the claim
-- (0 when this function's clock is behind the one that made the claim).
local latency_ms = math.max(now - num(c.created_at), 0)
local b = 0
for bound in string.gmatch(bounds, '[^,]+') do
  if latency_ms <= tonumber(bound) then break end
  b = b + 1
end
redis.call('HINCRBY', pk.hash, 'acquires_cold_start', 1)
redis.call('HINCRBY', pk.hash, 'cold_latency_us_sum', fmt_int(latency_ms * 1000))
redis.call('HINCRBY', pk.hash, 'cold_lat_' .. b, 1)
redis.call('HSET', pk.hash, 'last_acquire_at', now_s)
redis.call('HSET', K_CLAIM, 'lease_hash', lease_hash)
redis.call('PEXPIRE', K_CLAIM, ttl)
emit('sandbox.acquired', c.pool, id, now_s, 'cold')
return { OK, 'cold', redis.call('HGETALL', sk) }
