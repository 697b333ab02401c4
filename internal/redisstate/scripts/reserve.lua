-- reserve.lua (fenced): record a creating sandbox before any platform call,
-- after checking shutdown and the caps. A reservation for a cold claim
-- (ARGV[8] set) is a retry of that claim: it skips max_ready (a claim is not
-- pool stock) and counts the claim's attempt.
--
-- @keys pool ready creating in_use pool_deleting claim sandbox lock manager all creating_all pools
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs
--   claim: the claim HASH of ARGV[8] (any key when none), sandbox: the record of ARGV[3]
-- ARGV[1]  fence token        ARGV[2]  pool name        ARGV[3] sandbox id
-- ARGV[4]  max_ready          ARGV[5]  max_total (-1 unlimited)
-- ARGV[6] max_concurrent_creates                       ARGV[7] attempt (1-based; 0: 1)
-- ARGV[8] claim hash ("" none)                         ARGV[9] region
-- ARGV[10] instance size      ARGV[11] create deadline (unix ms)
-- ARGV[12] now (unix ms)
-- Returns {0, attempt}; {1, "claim"} the claim is gone or failed; {2, which cap};
--         {3} shut down; {6} not leader; {8, why} id taken or claim busy.
-- @lib
-- @state
local pk = given_pool_keys()
local token, pool, id = ARGV[1], ARGV[2], ARGV[3]
local max_ready, max_total, max_cc = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local attempt, claim_hash, region, size = tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10]
local deadline, now_s = ARGV[11], ARGV[12]

if not is_leader(token) then return { NOT_LEADER } end
if shut_down(pk) then return { SHUTDOWN } end
local sk = K_SANDBOX
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
