-- adopt.lua (fenced): an app on the platform with no record (Redis was
-- emptied, or a create outlived its record) is recorded straight into
-- deleting with reason orphan, so the normal delete path destroys it.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9]     pool HASH           KEYS[10] pool ready LIST
-- KEYS[11]    pool creating ZSET  KEYS[12] pool in_use ZSET
-- KEYS[13]    pool deleting ZSET
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token   ARGV[6] sandbox id   ARGV[7] pool   ARGV[8] app id
-- ARGV[9] url           ARGV[10] region      ARGV[11] instance size
-- ARGV[12] created at (unix ms)              ARGV[13] now (unix ms)
-- Returns {0}; {6} not leader; {8} the id already has a record.
-- @lib
-- @state
local pk = { hash = KEYS[9], ready = KEYS[10], creating = KEYS[11], in_use = KEYS[12], deleting = KEYS[13] }
local token, id, pool, app_id, url = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local region, size, created_at, now_s = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
if not is_leader(token) then return { NOT_LEADER } end
local sk = SB_PREFIX .. id
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
