-- failclaim.lua (fenced): fail a cold claim that can make no further
-- attempt: its pool left the config, create_retries fell to its attempts, or
-- it outlived its deadline. Only between attempts: a claim whose sandbox is
-- still creating, or serves it, is left to that sandbox.
--
-- @keys claim lock manager claims events
--   claim: the claim HASH
-- ARGV[1] fence token   ARGV[2] reason   ARGV[3] now (unix ms)
-- Returns {0}; {1} no such claim; {6} not leader; {8, why} not between attempts.
-- Events: sandbox.failed (the claim's, reason as given).
-- @lib
-- @state
local token, why, now_s = ARGV[1], ARGV[2], ARGV[3]
if not is_leader(token) then return { NOT_LEADER } end
local c = redis.call('HMGET', K_CLAIM, 'hash', 'failed', 'sandbox_id', 'pool')
if not c[1] then return { NOT_FOUND } end
if c[2] == '1' then return { OK } end
local id = c[3] or ''
if id ~= '' then
  local st = redis.call('HGET', SB_PREFIX .. id, 'state')
  if st and st ~= 'deleting' then return { WRONG_STATE, 'its sandbox is ' .. st } end
end
fail_claim(c[1], now_s, why)
emit('sandbox.failed', c[4] or '', id, now_s, why)
return { OK }
