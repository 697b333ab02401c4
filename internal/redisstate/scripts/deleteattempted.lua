-- deleteattempted.lua (fenced): count a provider delete that did not succeed.
--
-- @keys sandbox lock
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] now (unix ms)
-- Returns {0, attempts}; {1} no record; {6} not leader; {8, state} not deleting.
-- @lib
-- @state
local token, id, now_s = ARGV[1], ARGV[2], ARGV[3]
local rec, refused = fenced_record(token, 'deleting')
if not rec then return refused end
local sk = K_SANDBOX
redis.call('HSET', sk, 'last_delete_at', now_s)
return { OK, redis.call('HINCRBY', sk, 'delete_attempts', 1) }
