-- markdeleting.lua (fenced): condemn a sandbox. ready -> deleting for any
-- reason; creating -> deleting for any reason but lease_expired (its claim, if
-- any, fails); in_use -> deleting only for lease_expired once the lease has
-- expired at now, or for orphan. A deleting record answers ok unchanged.
--
-- @keys sandbox lock manager creating_all deleting_all claims events
--   sandbox: the record of ARGV[2]
-- ARGV[1] fence token   ARGV[2] sandbox id   ARGV[3] reason   ARGV[4] now (unix ms)
-- ARGV[5] released tombstone TTL (ms): a reaped lease leaves one, like a release
-- ARGV[6] clock skew tolerance (ms): a lease is reaped only this long after
--          it expired by the caller's clock (pool.ClockSkewTolerance)
-- A scale_down condemnation also dates the pool's last_scale_down_at, in
-- this same atomic step: a pass killed after it (during the app's Delete,
-- before its update_pool) cannot let the next pass scale down again within
-- scale_down_delay.
-- Returns {0}; {1} no record; {6} not leader; {8, why} the move is not allowed.
-- Events: sandbox.reaped (lease_expired), pool.drained.
-- @lib
-- @state
local token, id, reason, now_s, tomb_ttl, skew = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], num(ARGV[6])
local now = tonumber(now_s)
local rec, refused = fenced_record(token)
if not rec then return refused end
local sk = K_SANDBOX
if rec.state == 'deleting' then return { OK } end
local pk = pool_keys(rec.pool)

local counters = { warm_age = 'expired_warm', unhealthy = 'health_removals', scale_down = 'scaled_down',
  lease_expired = 'leases_reaped', orphan = 'orphans_deleted' }

if rec.state == 'ready' then
  if reason == 'lease_expired' then return { WRONG_STATE, 'ready sandboxes have no lease' } end
  redis.call('LREM', pk.ready, 0, id)
elseif rec.state == 'creating' then
  if reason == 'lease_expired' then return { WRONG_STATE, 'creating sandboxes have no lease' } end
  leave_creating(id, rec, pk)
  if (rec.claim_hash or '') ~= '' then fail_claim(rec.claim_hash, now_s, reason) end
elseif rec.state == 'in_use' then
  local expired = reason == 'lease_expired' and num(rec.lease_expires_at) + skew <= now
  if not expired and reason ~= 'orphan' then return { WRONG_STATE, 'in_use and its lease is live' } end
  redis.call('ZREM', pk.in_use, id)
  if reason == 'lease_expired' then
    if rec.lease_handed == '1' then
      redis.call('SET', RELEASED_PREFIX .. id, rec.lease_hash .. ':lease_expired', 'PX', tomb_ttl)
    end
    emit('sandbox.reaped', rec.pool, id, now_s, reason)
  end
else
  return { WRONG_STATE, rec.state }
end
to_deleting(id, pk, reason, now_s)
if counters[reason] then redis.call('HINCRBY', pk.hash, counters[reason], 1) end
if reason == 'scale_down' then redis.call('HSET', pk.hash, 'last_scale_down_at', now_s) end
if rec.state ~= 'in_use' then maybe_drained(rec.pool, pk, now_s) end
return { OK }
