-- forget.lua (fenced): the platform confirmed the delete: drop a deleting
-- record and count it (deletes, and forgotten for the books).
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] sandbox id   ARGV[7] now (unix ms)
-- Returns {0}; {1} no record; {6} not leader; {8, state} not deleting.
-- Events: sandbox.deleted (reason: the delete reason).
-- @lib
-- @state
local token, id, now_s = ARGV[5], ARGV[6], ARGV[7]
if not is_leader(token) then return { NOT_LEADER } end
local sk = SB_PREFIX .. id
local r = redis.call('HMGET', sk, 'state', 'pool', 'delete_reason')
if not r[1] then return { NOT_FOUND } end
if r[1] ~= 'deleting' then return { WRONG_STATE, r[1] } end
local pk = pool_keys(r[2])
redis.call('DEL', sk)
redis.call('ZREM', K_ALL, id)
redis.call('ZREM', K_DELETING_ALL, id)
redis.call('ZREM', pk.deleting, id)
redis.call('HINCRBY', pk.hash, 'deletes', 1)
redis.call('HINCRBY', pk.hash, 'forgotten', 1)
emit('sandbox.deleted', r[2], id, now_s, r[3])
return { OK }
