-- createcalled.lua (fenced): note that Apps.Create was sent for a creating
-- sandbox, with the app id when the platform answered one.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] sandbox id   ARGV[7] app id ("" unknown)   ARGV[8] now (unix ms)
-- Returns {0}; {1} no record; {6} not leader; {8} not creating.
-- @lib
-- @state
local token, id, app_id, now_s = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if not is_leader(token) then return { NOT_LEADER } end
local sk = SB_PREFIX .. id
local state = redis.call('HGET', sk, 'state')
if not state then return { NOT_FOUND } end
if state ~= 'creating' then return { WRONG_STATE, state } end
redis.call('HSET', sk, 'create_called_at', now_s)
if app_id ~= '' then redis.call('HSET', sk, 'app_id', app_id) end
return { OK }
