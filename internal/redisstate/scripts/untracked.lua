-- untracked.lua (fenced): note the apps a full list found with no record,
-- inside their orphan grace, and how many of them still deploy. acquire.lua
-- and reserve.lua count them against max_total_sandboxes and
-- max_concurrent_creates (lib.lua untracked), so an emptied Redis cannot let
-- cold claims and refills double the fleet while those apps await adoption.
--
-- @keys lock manager
-- ARGV[1] fence token   ARGV[2] apps   ARGV[3] of them deploying
-- Returns {0}; {6} not leader.
-- @lib
-- @state
local token, apps, deploying = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not is_leader(token) then return { NOT_LEADER } end
if apps > 0 then
  redis.call('HSET', K_MANAGER, 'untracked', fmt_int(apps), 'untracked_creating', fmt_int(deploying))
else
  redis.call('HDEL', K_MANAGER, 'untracked', 'untracked_creating')
end
return { OK }
