-- lock.lua: take the reconcile leader lock, or renew it if we hold it.
--
-- @keys lock
-- ARGV[1] fence token   ARGV[2] TTL (ms)
-- Returns {0, 1} held; {0, 0} another holds it.
-- @lib
-- @state
local token, ttl = ARGV[1], ARGV[2]
if redis.call('SET', K_LOCK, token, 'NX', 'PX', ttl) then return { OK, 1 } end
if redis.call('GET', K_LOCK) == token then
  redis.call('PEXPIRE', K_LOCK, ttl)
  return { OK, 1 }
end
return { OK, 0 }
