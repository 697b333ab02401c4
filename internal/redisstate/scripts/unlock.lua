-- unlock.lua: give the leader lock up if this token still holds it.
--
-- @keys lock
-- ARGV[1] fence token
-- Returns {0, 1} released; {0, 0} not ours.
-- @lib
-- @state
if redis.call('GET', K_LOCK) == ARGV[1] then
  redis.call('DEL', K_LOCK)
  return { OK, 1 }
end
return { OK, 0 }
