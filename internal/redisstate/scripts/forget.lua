-- forget.lua (fenced): the platform confirmed the delete: drop a deleting
-- record and count it (deletes, and forgotten for the books).
--
-- @keys sandbox lock manager all deleting_all events
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] now (unix ms)
-- Returns {0}; {1} no record; {6} not leader; {8, state} not deleting.
-- Events: sandbox.deleted (reason: the delete reason).
-- @lib
-- @state
local token, id, now_s = ARGV[1], ARGV[2], ARGV[3]
local rec, refused = fenced_record(token, 'deleting')
if not rec then return refused end
local sk = K_SANDBOX
local pk = pool_keys(rec.pool)
redis.call('DEL', sk)
redis.call('ZREM', K_ALL, id)
redis.call('ZREM', K_DELETING_ALL, id)
redis.call('ZREM', pk.deleting, id)
redis.call('HINCRBY', pk.hash, 'deletes', 1)
redis.call('HINCRBY', pk.hash, 'forgotten', 1)
emit('sandbox.deleted', rec.pool, id, now_s, rec.delete_reason)
return { OK }
