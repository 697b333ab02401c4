-- markfailed.lua (fenced): a creation failed: creating -> deleting
-- (create_failed), counted; the pool's backoff is set and, when asked, its
-- circuit opened. A claim's sandbox: the claim waits for another attempt
-- (reconcile reserves it with the claim hash) or, past max attempts, fails.
--
-- @keys sandbox lock manager creating_all deleting_all claims events
--   sandbox: the record of ARGV[2]
-- ARGV[1]  fence token          ARGV[2]  sandbox id        ARGV[3] failure reason (free text)
-- ARGV[4]  next create at (unix ms; 0 leave)               ARGV[5] circuit open until (unix ms; 0 leave)
-- ARGV[6] circuit reason       ARGV[7] max attempts of a claim (create_retries)
-- ARGV[8] claim next try at (unix ms)                     ARGV[9] now (unix ms)
-- Returns {0}; {1} no record; {6} not leader; {8, state} not creating.
-- Events: sandbox.failed, pool.circuit_open, pool.drained.
-- @lib
-- @state
local token, id, reason = ARGV[1], ARGV[2], ARGV[3]
local next_create, open_until, circuit_reason = ARGV[4], ARGV[5], ARGV[6]
local max_attempts, claim_next, now_s = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local now = tonumber(now_s)
local rec, refused = fenced_record(token, 'creating')
if not rec then return refused end
local sk = K_SANDBOX
local pk = pool_keys(rec.pool)

leave_creating(id, rec, pk)
to_deleting(id, pk, 'create_failed', now_s)
redis.call('HSET', sk, 'fail_reason', reason)
redis.call('HINCRBY', pk.hash, 'creates_failed', 1)
redis.call('HINCRBY', pk.hash, 'consecutive_failures', 1)
if tonumber(next_create) > 0 then redis.call('HSET', pk.hash, 'next_create_at', next_create) end
if tonumber(open_until) > 0 then
  local was_open = num(redis.call('HGET', pk.hash, 'circuit_open_until')) > now
  redis.call('HSET', pk.hash, 'circuit_open_until', open_until, 'circuit_reason', circuit_reason)
  if not was_open then emit('pool.circuit_open', rec.pool, '', now_s, circuit_reason) end
end
emit('sandbox.failed', rec.pool, id, now_s, reason)

local claim_hash = rec.claim_hash or ''
if claim_hash ~= '' then
  local ck = CLAIM_PREFIX .. claim_hash
  local c = redis.call('HMGET', ck, 'failed', 'attempts', 'sandbox_id')
  if c[1] == '0' and c[3] == id then
    if num(c[2]) < max_attempts then
      redis.call('HSET', ck, 'sandbox_id', '', 'next_try_at', claim_next)
    else
      fail_claim(claim_hash, now_s, 'create_failed')
    end
  end
end
maybe_drained(rec.pool, pk, now_s)
return { OK }
