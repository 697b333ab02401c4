-- createcalled.lua (fenced): note that Apps.Create was sent for a creating
-- sandbox, with the app id when the platform answered one.
--
-- @keys sandbox lock
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] app id ("" unknown)   ARGV[4] now (unix ms)
-- Returns {0}; {1} no record; {6} not leader; {8} not creating.
-- @lib
-- @state
local token, id, app_id, now_s = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rec, refused = fenced_record(token, 'creating')
if not rec then return refused end
local sk = K_SANDBOX
redis.call('HSET', sk, 'create_called_at', now_s)
if app_id ~= '' then redis.call('HSET', sk, 'app_id', app_id) end
return { OK }
