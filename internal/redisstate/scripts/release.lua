-- release.lua: in_use -> deleting (reason released), for the holder only. A
-- repeat by the holder answers the current state: "deleting", or "deleted"
-- once the record is forgotten (from the released tombstone).
--
-- @keys sandbox tomb manager deleting_all events
--   sandbox: the record of ARGV[1], tomb: its released tombstone STRING
-- ARGV[1] sandbox id   ARGV[2] lease token hash   ARGV[3] now (unix ms)
-- ARGV[4] tombstone TTL (ms)
-- Returns {0, "deleting"|"deleted"}; {1} never existed; {4} not the holder.
-- Events: sandbox.released.
-- @lib
-- @state
local id, lease_hash, now_s, tomb_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local sk = K_SANDBOX

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
