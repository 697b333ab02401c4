-- acquire.lua: THE hot path. Lease the oldest fresh ready sandbox of a pool,
-- or reserve a cold claim when the pool is empty (on_empty "create").
--
-- @keys pool ready creating in_use pool_deleting idem claim sandbox manager all creating_all deleting_all pools claims events dynamic
--   pool, ready, creating, in_use, pool_deleting: the pool's HASH, ready LIST and
--     creating, in_use and deleting ZSETs
--   idem: the idempotency STRING (any key when ARGV[5] is "0")
--   claim: the claim HASH of ARGV[9], sandbox: the record of its new sandbox
--     ARGV[10] (any keys when no claim can be made)
-- ARGV[1]  pool name            ARGV[2]  now (unix ms)
-- ARGV[3]  lease TTL (ms)       ARGV[4]  lease token hash (sha256 hex)
-- ARGV[5]  "1" when an idempotency key is given
-- ARGV[6] on_empty: "create" | "fail" | "wait" (empty: exhausted, no miss counted)
-- ARGV[7] max_total_sandboxes (-1 unlimited)   ARGV[8] max_concurrent_creates
-- ARGV[9] claim hash            ARGV[10] the claim's new sandbox id
-- ARGV[11] the claim sandbox's create deadline (unix ms)
-- ARGV[12] the acquisition's idempotency nonce (kept as the record's
--          idem_nonce when ARGV[5] is "1"; the lease token derives from it)
-- ARGV[13] "1" when default_pool_config serves the pool (a dynamic pool)
-- ARGV[14] max_dynamic_pools
-- ARGV[15] "1" when the pool's config has a target_ready (reconcile fills it)
-- ARGV[16] warm margin (ms): a sandbox is handed out only while its warm
--          deadline is at least this far away (pool.WarmMargin), so a slow
--          clock here never hands one out past max_warm_age
-- ARGV[17] "1" when the pool's target_ready is "auto": every acquire (a warm
--          lease, a cold claim, a final miss) updates its acquire rates
--          (rate_fast, rate_slow a minute, rate_at, rate_since, recent,
--          clock_<minute of the hour>, day_<hour of the day>;
--          pool.AutoRate, pool.ClockRate, pool.DayRate)
-- A dynamic pool Redis does not know yet is written only when this acquire
-- leaves it holding a sandbox (a cold claim) or, with a target, to be filled;
-- otherwise the miss writes nothing at all (no record, counter or event), so
-- distinct image names cannot grow Redis. It joins the dynamic pools SET then, unless
-- max_dynamic_pools are already there: {11, max} too many pools.
-- The warm latency is not counted here: the service measures it and records
-- it after answering, off this path (recordlatency.lua).
-- Returns {0, "pool", id, app_id, url, region, instance_size, created_at (ms),
--         ready_at (ms), warm_deadline (ms), lease_expires_at (ms)} a warm lease;
--         {0, "replay", sandbox HGETALL} an idempotent repeat (the service
--         derives the first acquisition's token from its idem_nonce and checks
--         it against its lease_hash: this request's hash is another nonce's);
--         {0, "claim", claim HGETALL} a new pending cold claim (queued, with
--         no sandbox, while max_concurrent_creates are deploying);
--         {0, "claim_replay", claim HGETALL} an idempotent repeat of one;
--         {2, why} exhausted ("empty", "capacity", "circuit_open");
--         {3} shut down; {9, why}; {11, max} too many dynamic pools.
-- An acquire that finds the pool empty (whatever it answers, shut down aside)
-- sets the pool's activated_at to now.
-- Events: sandbox.acquired, pool.exhausted.
-- @lib
local pk = { hash = K_POOL, ready = K_READY, creating = K_CREATING, in_use = K_IN_USE, deleting = K_POOL_DELETING }
local pool, now_s, ttl_s, lease_hash, use_idem = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local on_empty = ARGV[6]
local max_total, max_cc = tonumber(ARGV[7]), tonumber(ARGV[8])
local claim_hash, new_id, create_deadline, idem_nonce = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local dynamic, max_dynamic, fills = ARGV[13] == '1', tonumber(ARGV[14]), ARGV[15] == '1'
local warm_margin = num(ARGV[16])
local auto = ARGV[17] == '1'
local now, ttl = tonumber(now_s), tonumber(ttl_s)

-- An idempotent repeat replays what it got before: the warm lease while it
-- is held, or the cold claim ("claim:<hash>") until it fails, so a retry of
-- a cold acquire makes no second claim and no second sandbox. The service
-- derives the claim id again from the claim's idem_nonce.
if use_idem == '1' then
  local prev = redis.call('GET', K_IDEM)
  local prev_claim = prev and string.match(prev, '^claim:(.+)$')
  if prev_claim then
    -- The claim is replayed while it can still be served, or its lease is
    -- held: not once its sandbox was released or its lease ran out (then
    -- the key leases another sandbox, as a warm key does).
    local ck = CLAIM_PREFIX .. prev_claim
    local c = redis.call('HMGET', ck, 'failed', 'sandbox_id')
    if c[1] == '0' then
      local sid, live = c[2] or '', true
      if sid ~= '' then
        local r = redis.call('HMGET', SB_PREFIX .. sid, 'state', 'claim_hash', 'lease_expires_at')
        live = r[2] == prev_claim and (r[1] == 'creating' or (r[1] == 'in_use' and num(r[3]) > now))
      end
      if live then return { OK, 'claim_replay', redis.call('HGETALL', ck) } end
    end
  elseif prev then
    local sk = SB_PREFIX .. prev
    local r = redis.call('HMGET', sk, 'state', 'lease_expires_at')
    if r[1] == 'in_use' and num(r[2]) > now then
      return { OK, 'replay', redis.call('HGETALL', sk) }
    end
  end
end

-- One read of the pool: its flags (manager_shutdown mirrors the manager's, see
-- touch_pool) and the counters this acquire adds to, with the clock
-- profiles' fields for this minute of the hour (pool.ClockRate: the acquires
-- in it in this hour and the two before, "hour:this:prev:prev2") and for
-- this hour of the day (pool.DayRate: "day:today:yesterday:the day before").
local abs_min = math.floor(now / 60000)
local abs_hour = math.floor(abs_min / 60)
local clock, day_clock = 'clock_' .. (abs_min % 60), 'day_' .. (abs_hour % 24)
-- A pool that does not size itself reads only the first six (the read is
-- the warm path's biggest after the sandbox's).
local ph
if auto then
  ph = redis.call('HMGET', pk.hash, 'shutdown', 'manager_shutdown', 'circuit_open_until',
    'acquires_from_pool', 'warm_age_ms_sum', 'exhausted_event_at', 'rate_fast', 'rate_slow', 'rate_at', 'recent',
    clock, day_clock)
else
  ph = redis.call('HMGET', pk.hash, 'shutdown', 'manager_shutdown', 'circuit_open_until',
    'acquires_from_pool', 'warm_age_ms_sum', 'exhausted_event_at')
end

-- A clock profile's field with this acquire counted in period: its counts
-- shifted by the periods since the newest, "period:this:prev:prev2". (New
-- locals, not a multiple assignment to these: miniredis's Lua assigns those
-- one by one.)
local function counted(field, period)
  local p0, c0, c1, c2 = string.match(field or '', '^(%d+):(%d+):(%d+):(%d+)$')
  local shift = period - (tonumber(p0) or -10)
  local counts = { tonumber(c0) or 0, tonumber(c1) or 0, tonumber(c2) or 0 }
  local n0 = 1 + (shift == 0 and counts[1] or 0)
  local n1 = (shift == 0 and counts[2]) or (shift == 1 and counts[1]) or 0
  local n2 = (shift == 0 and counts[3]) or (shift == 1 and counts[2]) or (shift == 2 and counts[1]) or 0
  return period .. ':' .. n0 .. ':' .. n1 .. ':' .. n2
end

-- An auto pool's demand: each acquire adds one to two exponentially
-- weighted rates a minute (time constants 5 and 60 minutes, pool/auto.go).
-- It also keeps the times of the last RECENT acquires (newest first), from
-- which a burst is told within seconds (pool.BurstRate).
local TAU_FAST, TAU_SLOW, RECENT = 300000, 3600000, 8
local function count_demand()
  if not auto then return end
  local dt = math.max(now - num(ph[9]), 0)
  local fast = num(ph[7]) * math.exp(-dt / TAU_FAST) + 60000 / TAU_FAST
  local slow = num(ph[8]) * math.exp(-dt / TAU_SLOW) + 60000 / TAU_SLOW
  local recent = now_s
  local n = 1
  for t in string.gmatch(ph[10] or '', '[^,]+') do
    if n >= RECENT then break end
    recent, n = recent .. ',' .. t, n + 1
  end
  local args = { 'rate_fast', string.format('%.6f', fast), 'rate_slow', string.format('%.6f', slow),
    'rate_at', now_s, 'recent', recent, clock, counted(ph[11], abs_hour),
    day_clock, counted(ph[12], math.floor(abs_hour / 24)) }
  if not ph[9] then -- the first acquire counted also starts the history
    args[#args + 1], args[#args + 2] = 'rate_since', now_s
  end
  redis.call('HSET', pk.hash, unpack(args))
end
local function shutdown_miss()
  redis.call('HINCRBY', pk.hash, 'misses_shutdown', 1)
  return { SHUTDOWN }
end
if ph[1] == '1' or ph[2] == '1' then return shutdown_miss() end

-- Oldest first; a sandbox past its warm deadline is never handed out.
while true do
  local id = redis.call('LPOP', pk.ready)
  if not id then break end
  local sk = SB_PREFIX .. id
  local r = redis.call('HMGET', sk, 'state', 'warm_deadline', 'ready_at', 'app_id', 'url', 'region',
    'instance_size', 'created_at')
  if r[1] == 'ready' then
    if num(r[2]) - warm_margin > now then
      local exp = fmt_int(now + ttl)
      redis.call('HSET', sk, 'state', 'in_use', 'acquired_at', now_s, 'lease_expires_at', exp,
        'lease_hash', lease_hash, 'lease_handed', '1')
      redis.call('ZADD', pk.in_use, exp, id)
      -- total_acquires is warm + cold, summed on read. ready_at comes from
      -- reconcile's clock: a skew between functions counts as age 0, never
      -- as a negative age that would lower the sum.
      local n = num(ph[4]) + 1
      redis.call('HSET', pk.hash,
        'acquires_from_pool', fmt_int(n),
        'warm_age_ms_sum', fmt_int(num(ph[5]) + math.max(now - num(r[3]), 0)),
        'last_acquire_at', now_s)
      if use_idem == '1' then
        -- The record names its idempotency key so a renew keeps the key
        -- alive as long as the lease.
        redis.call('SET', K_IDEM, id, 'PX', ttl_s)
        redis.call('HSET', sk, 'idem_key', K_IDEM, 'idem_nonce', idem_nonce)
      end
      count_demand()
      emit('sandbox.acquired', pool, id, now_s, 'pool', n % ACQUIRE_TRIM_EVERY ~= 0)
      -- What a lease holder needs, from the read above (no second read),
      -- positionally: the reply is the hot path's biggest cost after the calls.
      return { OK, 'pool', id, r[4] or '', r[5] or '', r[6] or '', r[7] or '', r[8] or '', r[3] or '', r[2], exp }
    end
    to_deleting(id, pk, 'warm_age', now_s)
    redis.call('HINCRBY', pk.hash, 'expired_warm', 1)
  end
end

-- Every miss is counted; pool.exhausted is emitted at most once per pool
-- every EXHAUSTED_EVERY_MS, so a flood of misses cannot flood the outbox.
local EXHAUSTED_EVERY_MS = 10000
local function exhausted(counter, why)
  redis.call('HINCRBY', pk.hash, counter, 1)
  count_demand()
  if now - num(ph[6]) >= EXHAUSTED_EVERY_MS then
    emit('pool.exhausted', pool, '', now_s, why)
    redis.call('HSET', pk.hash, 'exhausted_event_at', now_s)
  end
  return { EXHAUSTED, why }
end

-- max_total_sandboxes bounds what exists: past it a cold acquire is
-- refused ("capacity"). max_concurrent_creates only paces the creates: past
-- it a cold claim still starts, queued without a sandbox, and reconcile
-- reserves its sandbox first when a create slot frees (planCreates serves
-- waiting claims before any pool's deficit). Refused there too, a burst
-- larger than the create cap failed outright, and more often for a pool
-- whose own refills held the slots.
local function over_total()
  if max_total < 0 then return false end
  local apps = untracked()
  return redis.call('ZCARD', K_ALL) + apps >= max_total
end
local function over_creates()
  local _, deploying = untracked()
  return redis.call('ZCARD', K_CREATING_ALL) + deploying >= max_cc
end

-- A dynamic pool seen for the first time: nothing is written unless it will
-- hold a sandbox, and no more than max_dynamic pools are kept.
if dynamic and redis.call('SISMEMBER', K_POOLS, pool) == 0 then
  if redis.call('HGET', K_MANAGER, 'shutdown') == '1' then return { SHUTDOWN } end
  if on_empty == 'wait' then return { EXHAUSTED, 'empty' } end
  local claims = on_empty == 'create' and not over_total()
  if not claims and not fills then
    return { EXHAUSTED, on_empty == 'create' and 'capacity' or 'empty' }
  end
  if redis.call('SCARD', K_DYNAMIC) >= max_dynamic then return { TOO_MANY_POOLS, fmt_int(max_dynamic) } end
  redis.call('SADD', K_DYNAMIC, pool)
end

-- A pool not yet in the pools set has no mirrored flag: ask the manager.
if redis.call('HGET', K_MANAGER, 'shutdown') == '1' then return shutdown_miss() end
-- An empty pool is demand: like the seed's acquire() on an IDLE pool, it
-- makes the pool active (its idle clock restarts), so reconcile refills a
-- pool that idle scale-down emptied instead of leaving every acquire to miss.
-- A dynamic pool let through above joins the pools set here, so reconcile
-- fills it and metrics report it.
touch_pool(pool, pk, now_s)
redis.call('HSET', pk.hash, 'activated_at', now_s)
-- "wait": a caller still inside its wait_seconds looks again later; only its
-- final try counts a miss.
if on_empty == 'wait' then return { EXHAUSTED, 'empty' } end
if on_empty ~= 'create' then return exhausted('misses_empty', 'empty') end
if num(ph[3]) > now then return exhausted('misses_circuit', 'circuit_open') end
if over_total() then return exhausted('misses_capacity', 'capacity') end
if claim_hash == '' or new_id == '' then return { BAD_ARG, 'a cold claim needs a claim hash and a sandbox id' } end
local sk = K_SANDBOX
if redis.call('EXISTS', sk) == 1 or redis.call('EXISTS', K_CLAIM) == 1 then
  return { BAD_ARG, 'sandbox id or claim already exists' }
end

touch_pool(pool, pk, now_s)
if over_creates() then
  -- Queued: a claim with no sandbox yet and no attempt made, as one
  -- between attempts; reconcile reserves its sandbox (attempt 1) when a
  -- create slot frees, or fails it at its deadline.
  redis.call('HSET', K_CLAIM, 'hash', claim_hash, 'pool', pool, 'sandbox_id', '', 'attempts', '0',
    'failed', '0', 'created_at', now_s, 'lease_ttl_ms', ttl_s, 'next_try_at', '0')
else
  -- The cold claim: a creating record reserved for this caller alone.
  redis.call('HSET', sk, 'id', new_id, 'pool', pool, 'state', 'creating', 'created_at', now_s,
    'create_deadline', create_deadline, 'attempt', '1', 'claim_hash', claim_hash)
  redis.call('ZADD', K_ALL, now_s, new_id)
  redis.call('ZADD', K_CREATING_ALL, create_deadline, new_id)
  redis.call('ZADD', pk.creating, create_deadline, new_id)
  redis.call('HINCRBY', pk.hash, 'creates', 1)
  redis.call('HINCRBY', pk.hash, 'created', 1)
  redis.call('HINCRBY', pk.hash, 'claims_creating', 1)
  redis.call('HSET', K_CLAIM, 'hash', claim_hash, 'pool', pool, 'sandbox_id', new_id, 'attempts', '1',
    'failed', '0', 'created_at', now_s, 'lease_ttl_ms', ttl_s)
end
redis.call('ZADD', K_CLAIMS, now_s, claim_hash)
count_demand()
if use_idem == '1' then
  -- A retry with the same key finds this claim, for as long as it can
  -- still be served (its lease, and an hour for the attempts).
  -- idem_key: a renew of the served lease keeps the key alive with it.
  redis.call('HSET', K_CLAIM, 'idem_nonce', idem_nonce, 'idem_key', K_IDEM)
  redis.call('SET', K_IDEM, 'claim:' .. claim_hash, 'PX', fmt_int(ttl + 3600000))
end
return { OK, 'claim', redis.call('HGETALL', K_CLAIM) }
