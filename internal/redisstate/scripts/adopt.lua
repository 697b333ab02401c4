-- adopt.lua (fenced): an app on the platform with no record (Redis was
-- emptied, or a create outlived its record) is recorded straight into
-- deleting with reason orphan, so the normal delete path destroys it.
--
-- @keys pool ready creating in_use pool_deleting sandbox lock manager all deleting_all pools
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] pool   ARGV[4] app id
-- ARGV[5] url           ARGV[6] region      ARGV[7] instance size
-- ARGV[8] created at (unix ms)              ARGV[9] now (unix ms)
-- Returns {0}; {6} not leader; {8} the id already has a record.
-- @lib
-- @state
local pk = given_pool_keys()
local token, id, pool, app_id, url = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local region, size, created_at, now_s = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if not is_leader(token) then return { NOT_LEADER } end
local sk = K_SANDBOX
if redis.call('EXISTS', sk) == 1 then return { WRONG_STATE, 'sandbox id already has a record' } end
touch_pool(pool, pk, now_s)
redis.call('HSET', sk, 'id', id, 'pool', pool, 'created_at', created_at, 'app_id', app_id, 'url', url,
  'region', region, 'instance_size', size)
redis.call('ZADD', K_ALL, created_at, id)
to_deleting(id, pk, 'orphan', now_s)
redis.call('HINCRBY', pk.hash, 'created', 1)
redis.call('HINCRBY', pk.hash, 'adopted', 1)
redis.call('HINCRBY', pk.hash, 'orphans_deleted', 1)
return { OK }
