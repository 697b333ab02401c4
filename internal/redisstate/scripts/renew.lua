-- renew.lua: extend the lease of an in_use sandbox, for its holder only.
--
-- @keys sandbox tomb
--   sandbox: the record of ARGV[1], tomb: its released tombstone STRING
-- ARGV[1] sandbox id   ARGV[2] lease token hash   ARGV[3] TTL (ms)   ARGV[4] now (unix ms)
-- Also extends the sandbox's idempotency key to the new lease: a warm
-- lease's (record field idem_key), or a cold claim's (the claim's idem_key,
-- and the claim itself, which a replay reads).
-- Returns {0, new lease expiry (ms, string)}; {1} never existed; {4} not the
-- holder; {5} the lease expired (reaped, or condemned meanwhile); {10} the
-- holder released it.
-- @lib
-- @state
local id, lease_hash, ttl_s, now_s = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_s)
local sk = K_SANDBOX

local r = redis.call('HMGET', sk, 'state', 'pool', 'lease_hash', 'lease_handed', 'lease_expires_at', 'idem_key', 'delete_reason', 'claim_hash')
if not r[1] then
  local t = redis.call('GET', K_TOMB)
  if not t then return { NOT_FOUND } end
  if tomb_hash(t) ~= lease_hash then return { LEASE_MISMATCH } end
  if tomb_reason(t) == 'released' then return { LEASE_RELEASED } end
  return { LEASE_EXPIRED }
end
if r[4] ~= '1' or r[3] ~= lease_hash then return { LEASE_MISMATCH } end
if r[1] == 'deleting' and r[7] == 'released' then return { LEASE_RELEASED } end
if r[1] ~= 'in_use' or num(r[5]) <= now then return { LEASE_EXPIRED } end
local exp = fmt_int(now + tonumber(ttl_s))
redis.call('HSET', sk, 'lease_expires_at', exp)
redis.call('ZADD', pool_keys(r[2]).in_use, exp, id)
-- An idempotent acquire replays "within the lease": the key lives as long as
-- the renewed lease (a key name read from the record; it shares the hash tag).
if r[6] and redis.call('GET', r[6]) == id then redis.call('PEXPIRE', r[6], ttl_s) end
local claim = r[8] or ''
if claim ~= '' then
  local ck = CLAIM_PREFIX .. claim
  local ik = redis.call('HGET', ck, 'idem_key')
  if ik and redis.call('GET', ik) == 'claim:' .. claim and redis.call('PTTL', ik) < tonumber(ttl_s) then
    redis.call('PEXPIRE', ik, ttl_s)
  end
  if redis.call('EXISTS', ck) == 1 and redis.call('PTTL', ck) < tonumber(ttl_s) + 3600000 then
    redis.call('PEXPIRE', ck, tonumber(ttl_s) + 3600000)
  end
end
return { OK, exp }
