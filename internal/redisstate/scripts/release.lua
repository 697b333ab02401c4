-- release.lua: in_use -> deleting (reason released), for the holder only. A
-- repeat by the holder answers the current state: "deleting", or "deleted"
-- once the record is forgotten (from the released tombstone).
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9]     the released tombstone STRING of ARGV[5]
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] sandbox id   ARGV[6] lease token hash   ARGV[7] now (unix ms)
-- ARGV[8] tombstone TTL (ms)
-- Returns {0, "deleting"|"deleted"}; {1} never existed; {4} not the holder.
-- Events: sandbox.released.
-- @lib
-- @state
local K_TOMB = KEYS[9]
local id, lease_hash, now_s, tomb_ttl = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local sk = SB_PREFIX .. id

local r = redis.call('HMGET', sk, 'state', 'pool', 'lease_hash', 'lease_handed')
if not r[1] then
  local t = redis.call('GET', K_TOMB)
  if not t then return { NOT_FOUND } end
  if tomb_hash(t) ~= lease_hash then return { LEASE_MISMATCH } end
  return { OK, 'deleted' }
end
if r[4] ~= '1' or r[3] ~= lease_hash then return { LEASE_MISMATCH } end
if r[1] == 'deleting' then return { OK, 'deleting' } end
if r[1] ~= 'in_use' then return { LEASE_MISMATCH } end

local pk = pool_keys(r[2])
redis.call('ZREM', pk.in_use, id)
to_deleting(id, pk, 'released', now_s)
redis.call('HINCRBY', pk.hash, 'released', 1)
redis.call('SET', K_TOMB, lease_hash .. ':released', 'PX', tomb_ttl)
emit('sandbox.released', r[2], id, now_s, 'released')
return { OK, 'deleting' }
