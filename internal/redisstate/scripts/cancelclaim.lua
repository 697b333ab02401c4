-- cancelclaim.lua: the claimant of a cold claim gives up (a timeout, a
-- cancelled context). Not fenced: the caller holds the claim id. The claim
-- fails with reason "cancelled" (its polls then answer not found), and its
-- sandbox, which nobody was ever handed, is kept for the pool instead of
-- being held in_use for nobody until the claim's lease ends:
--   - ready for the claim but its lease not yet handed: it joins the pool's
--     ready list now, unless the pool already holds max_ready (as a pass
--     recorded it): then it is deleted (over_capacity);
--   - still creating: it joins the ready list when it is ready (markready
--     sends the sandbox of a failed claim there);
--   - between attempts: no further attempt is made.
-- A claim whose lease was already handed out is served: state conflict, the
-- holder releases the sandbox.
--
-- @keys claim manager claims deleting_all events
--   claim: the claim HASH
-- ARGV[1] now (unix ms)
-- Returns {0, "cancelled"|"to_pool"|"surplus"|"ended"}; {1} unknown claim;
--         {8, why} already served.
-- Events: sandbox.ready (reason "claim_cancelled") when its sandbox joins the pool.
-- @lib
-- @state
local now_s = ARGV[1]
local c = hgetall(K_CLAIM)
if not c.hash then return { NOT_FOUND } end
if c.failed == '1' then return { OK, 'ended' } end
local outcome = 'cancelled'
local id = c.sandbox_id or ''
if id ~= '' then
  local sk = SB_PREFIX .. id
  local r = redis.call('HMGET', sk, 'state', 'claim_hash', 'lease_handed', 'pool')
  if r[2] == c.hash and r[1] == 'in_use' then
    if r[3] == '1' then return { WRONG_STATE, 'the claim was served: release its sandbox' } end
    local pk = pool_keys(r[4])
    redis.call('ZREM', pk.in_use, id)
    redis.call('HDEL', sk, 'lease_expires_at', 'lease_handed')
    if over_max_ready(pk) then
      -- The pool is full (a pass refilled it meanwhile): the sandbox goes.
      to_deleting(id, pk, 'over_capacity', now_s)
      outcome = 'surplus'
    else
      redis.call('HSET', sk, 'state', 'ready')
      redis.call('RPUSH', pk.ready, id)
      emit('sandbox.ready', r[4], id, now_s, 'claim_cancelled')
      outcome = 'to_pool'
    end
  elseif r[2] == c.hash and r[1] == 'creating' then
    outcome = 'to_pool'
  end
end
fail_claim(c.hash, now_s, 'cancelled')
return { OK, outcome }
