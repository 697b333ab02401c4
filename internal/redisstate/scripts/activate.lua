-- activate.lua: make pools active now (the seed's start(): a pool fills to
-- target_ready), without starting a shut-down one. Warm-up calls it on every
-- poll, and the local server once at start, so a pool that went idle in an
-- earlier life (or overnight) fills again before traffic. Not fenced: like
-- setshutdown, an admin action; reconcile then fills.
--
-- @keys manager pools pool_hashes...
--   pool_hashes...: one pool HASH per pool name in ARGV[3..]
-- ARGV[1] now (unix ms)   ARGV[2] number of pools
-- ARGV[3..]   pool names
-- Returns {0, activated} the number of pools now active (shut-down ones are
-- left as they are).
-- Events: none (no state a receiver acts on changes: the pool was not shut down).
-- @lib
-- @state
local now_s, n = ARGV[1], tonumber(ARGV[2])
local activated = 0
for i = 1, n do
  local name = ARGV[2 + i]
  local pk = { hash = K_POOL_HASHES[i] }
  touch_pool(name, pk, now_s)
  if not shut_down(pk) then
    redis.call('HSET', pk.hash, 'activated_at', now_s)
    activated = activated + 1
  end
end
return { OK, activated }
