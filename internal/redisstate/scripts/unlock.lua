-- unlock.lua: give the leader lock up if this token still holds it.
--
-- KEYS[1..8]  the shared keys (lib.lua); KEYS[1] is the lock
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] fence token
-- Returns {0, 1} released; {0, 0} not ours.
-- @lib
-- @state
if redis.call('GET', K_LOCK) == ARGV[5] then
  redis.call('DEL', K_LOCK)
  return { OK, 1 }
end
return { OK, 0 }
