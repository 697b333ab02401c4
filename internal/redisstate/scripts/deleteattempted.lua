-- deleteattempted.lua (fenced): count a provider delete that did not succeed.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] sandbox id   ARGV[7] now (unix ms)
-- Returns {0, attempts}; {1} no record; {6} not leader; {8, state} not deleting.
-- @lib
-- @state
local token, id, now_s = ARGV[5], ARGV[6], ARGV[7]
if not is_leader(token) then return { NOT_LEADER } end
local sk = SB_PREFIX .. id
local state = redis.call('HGET', sk, 'state')
if not state then return { NOT_FOUND } end
if state ~= 'deleting' then return { WRONG_STATE, state } end
redis.call('HSET', sk, 'last_delete_at', now_s)
return { OK, redis.call('HINCRBY', sk, 'delete_attempts', 1) }
