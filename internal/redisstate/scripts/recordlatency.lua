-- recordlatency.lua: count one warm acquire latency sample, measured by the
-- service (request arrival to the warm lease) and written after the caller
-- had its answer, so the warm acquire stays one round trip. Cold latency is
-- counted by pollclaim.lua when the claim is served.
--
-- @keys pool
--   pool: the pool HASH
-- ARGV[1] latency (us, whole)   ARGV[2] histogram bucket index (0-based,
--         pool.LatencyBucketsMs; the last is +Inf), computed by the caller
-- Returns {0, 1} counted; {0, 0} the pool has no state (forgotten since the
-- acquire, or Redis emptied): nothing is written, so no pool hash is made
-- outside the pools set.
-- @lib
local latency_us, bucket = ARGV[1], ARGV[2]
if redis.call('EXISTS', K_POOL) == 0 then return { OK, 0 } end
redis.call('HINCRBY', K_POOL, 'warm_latency_us_sum', latency_us)
redis.call('HINCRBY', K_POOL, 'warm_lat_' .. bucket, 1)
return { OK, 1 }
