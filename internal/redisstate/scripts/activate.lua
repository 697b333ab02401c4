-- activate.lua: make pools active now (the seed's start(): a pool fills to
-- target_ready), without starting a shut-down one. Warm-up calls it on every
-- poll, and the local server once at start, so a pool that went idle in an
-- earlier life (or overnight) fills again before traffic. Not fenced: like
-- setshutdown, an admin action; reconcile then fills.
--
-- KEYS[1..8]  the shared keys (lib.lua)
-- KEYS[9..]   one pool HASH per pool name in ARGV[7..]
-- ARGV[1..4]  the shared prefixes (lib.lua)
-- ARGV[5] now (unix ms)   ARGV[6] number of pools
-- ARGV[7..]   pool names
-- Returns {0, activated} the number of pools now active (shut-down ones are
-- left as they are).
-- Events: none (no state a receiver acts on changes: the pool was not shut down).
-- @lib
-- @state
local now_s, n = ARGV[5], tonumber(ARGV[6])
local activated = 0
for i = 1, n do
  local name = ARGV[6 + i]
  local pk = { hash = KEYS[8 + i] }
  touch_pool(name, pk, now_s)
  if not shut_down(pk) then
    redis.call('HSET', pk.hash, 'activated_at', now_s)
    activated = activated + 1
  end
end
return { OK, activated }
