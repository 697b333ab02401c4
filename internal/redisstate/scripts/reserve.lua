-- reserve.lua (fenced): record a creating sandbox before any platform call,
-- after checking shutdown and the caps. A reservation for a cold claim
-- (ARGV[12] set) is a retry of that claim: it skips max_ready (a claim is not
-- pool stock) and counts the claim's attempt.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9]     pool HASH           KEYS[10] pool ready LIST
-- KEYS[11]    pool creating ZSET  KEYS[12] pool in_use ZSET
-- KEYS[13]    pool deleting ZSET  KEYS[14] claim HASH of ARGV[12] (any key when none)
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5]  fence token        ARGV[6]  pool name        ARGV[7] sandbox id
-- ARGV[8]  max_ready          ARGV[9]  max_total (-1 unlimited)
-- ARGV[10] max_concurrent_creates                       ARGV[11] attempt (1-based; 0: 1)
-- ARGV[12] claim hash ("" none)                         ARGV[13] region
-- ARGV[14] instance size      ARGV[15] create deadline (unix ms)
-- ARGV[16] now (unix ms)
-- Returns {0, attempt}; {1, "claim"} the claim is gone or failed; {2, which cap};
--         {3} shut down; {6} not leader; {8, why} id taken or claim busy.
-- @lib
-- @state
local pk = { hash = KEYS[9], ready = KEYS[10], creating = KEYS[11], in_use = KEYS[12], deleting = KEYS[13] }
local K_CLAIM = KEYS[14]
local token, pool, id = ARGV[5], ARGV[6], ARGV[7]
local max_ready, max_total, max_cc = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local attempt, claim_hash, region, size = tonumber(ARGV[11]), ARGV[12], ARGV[13], ARGV[14]
local deadline, now_s = ARGV[15], ARGV[16]

if not is_leader(token) then return { NOT_LEADER } end
if shut_down(pk) then return { SHUTDOWN } end
local sk = SB_PREFIX .. id
if redis.call('EXISTS', sk) == 1 then return { WRONG_STATE, 'sandbox id already has a record' } end

if claim_hash ~= '' then
  local c = redis.call('HMGET', K_CLAIM, 'hash', 'failed', 'sandbox_id', 'attempts')
  if not c[1] or c[2] == '1' then return { NOT_FOUND, 'claim' } end
  if (c[3] or '') ~= '' then return { WRONG_STATE, 'claim already has a sandbox' } end
  attempt = num(c[4]) + 1
else
  local stock = redis.call('LLEN', pk.ready) + redis.call('ZCARD', pk.creating)
    - num(redis.call('HGET', pk.hash, 'claims_creating'))
  if stock >= max_ready then return { EXHAUSTED, 'max_ready' } end
end
local apps, deploying = untracked()
if max_total >= 0 and redis.call('ZCARD', K_ALL) + apps >= max_total then return { EXHAUSTED, 'max_total_sandboxes' } end
if redis.call('ZCARD', K_CREATING_ALL) + deploying >= max_cc then return { EXHAUSTED, 'max_concurrent_creates' } end
if attempt < 1 then attempt = 1 end

touch_pool(pool, pk, now_s)
redis.call('HSET', sk, 'id', id, 'pool', pool, 'state', 'creating', 'created_at', now_s,
  'create_deadline', deadline, 'attempt', fmt_int(attempt), 'region', region, 'instance_size', size)
redis.call('ZADD', K_ALL, now_s, id)
redis.call('ZADD', K_CREATING_ALL, deadline, id)
redis.call('ZADD', pk.creating, deadline, id)
redis.call('HINCRBY', pk.hash, 'creates', 1)
redis.call('HINCRBY', pk.hash, 'created', 1)
if claim_hash ~= '' then
  redis.call('HSET', sk, 'claim_hash', claim_hash)
  redis.call('HINCRBY', pk.hash, 'claims_creating', 1)
  redis.call('HSET', K_CLAIM, 'sandbox_id', id, 'attempts', fmt_int(attempt), 'next_try_at', '0')
end
return { OK, attempt }
