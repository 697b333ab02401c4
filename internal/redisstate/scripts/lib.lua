-- lib.lua: shared prelude, spliced into every script at the line
-- "-- @lib" (see scripts.go), after that script's own contract comment. It
-- holds only what the warm acquire needs too (every closure defined here is
-- built on every call); the other scripts also splice lib_state.lua at
-- "-- @state".
--
-- Each script takes only the keys it touches, named in its contract's
-- "-- @keys" line: the loader (scripts.go) binds KEYS[1], KEYS[2], … to the
-- locals K_<NAME> before this prelude, so the functions here use the ones
-- their script names (TestScriptsNameTheKeysTheyUse checks that every K_ a
-- script reaches, through these functions too, is one of its own). Its ARGV
-- are its own arguments from ARGV[1] on.
--
-- Keys built here: SB_PREFIX .. id, CLAIM_PREFIX .. hash, RELEASED_PREFIX .. id
-- and POOL_PREFIX .. name .. suffix, only for ids, hashes and pool names read
-- from Redis (a record or an index), never for one the caller knows (that
-- one comes in KEYS). They share the hash tag of KEYS[1], which every key of
-- the deployment carries, so a script still touches one slot; keys.go builds
-- the same names (TestKeyLayoutMatchesLua). A sandbox record's idem_key
-- field holds its idempotency key's full name (set from KEYS by acquire,
-- renewed with the lease by renew).
--
-- Return codes (mirrored in codes.go):
--   0 ok, 1 not found, 2 exhausted, 3 shut down, 4 lease mismatch,
--   5 lease expired, 6 not leader, 7 creation failed, 8 wrong state,
--   9 bad argument, 10 lease released, 11 too many (dynamic) pools
local TAG = string.match(KEYS[1], '^{[^}]*}')
local SB_PREFIX, POOL_PREFIX = TAG .. ':sb:', TAG .. ':pool:'
local CLAIM_PREFIX, RELEASED_PREFIX = TAG .. ':claim:', TAG .. ':released:'

local OK, NOT_FOUND, EXHAUSTED, SHUTDOWN, LEASE_MISMATCH = 0, 1, 2, 3, 4
local LEASE_EXPIRED, NOT_LEADER, CREATION_FAILED, WRONG_STATE, BAD_ARG, LEASE_RELEASED, TOO_MANY_POOLS = 5, 6, 7, 8, 9, 10, 11

-- A released tombstone is "<lease hash>:<why>": released, or lease_expired
-- when reconcile reaped the lease. One written before the reason was kept is
-- the hash alone (its reason reads as '').
local function tomb_hash(t) return (string.match(t, '^[^:]*')) end
local function tomb_reason(t) return string.match(t, ':(.*)$') or '' end

local EVENTS_MAXLEN = 100000

-- fmt_int renders a whole number without an exponent (ms timestamps exceed
-- what tostring prints exactly on some Lua builds).
local function fmt_int(n)
  return string.format('%d', n)
end

local function num(v)
  if v == false or v == nil or v == '' then return 0 end
  return tonumber(v) or 0
end

-- untracked returns the apps the last full list found with no record,
-- inside their orphan grace, and how many of them still deploy, as reconcile
-- noted them (untracked.lua): they exist and cost, so every capacity check
-- counts them, which keeps an emptied Redis from doubling the fleet.
local function untracked()
  local u = redis.call('HMGET', K_MANAGER, 'untracked', 'untracked_creating')
  return num(u[1]), num(u[2])
end

-- emit appends an event to the outbox. Past EVENTS_MAXLEN the oldest
-- entries are dropped; a webhook whose cursor is behind them would skip them
-- silently, so a trim that drops anything notes the oldest id it kept in the
-- manager's events_trimmed_to, from which the deliverer reports the gap.
-- skip_trim: the caller looks at the length only now and then (the warm
-- acquire, every ACQUIRE_TRIM_EVERY acquires of a pool; every other emit
-- looks), so the outbox exceeds its cap by at most that many entries a pool.
local ACQUIRE_TRIM_EVERY = 64
local function emit(typ, pool, id, at, reason, skip_trim)
  redis.call('XADD', K_EVENTS, '*',
    'type', typ, 'pool', pool or '', 'sandbox_id', id or '', 'at', at, 'reason', reason or '')
  if not skip_trim and redis.call('XLEN', K_EVENTS) > EVENTS_MAXLEN
      and redis.call('XTRIM', K_EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN) > 0 then
    local first = redis.call('XRANGE', K_EVENTS, '-', '+', 'COUNT', 1)[1]
    if first then redis.call('HSET', K_MANAGER, 'events_trimmed_to', first[1]) end
  end
end

-- touch_pool records that a pool has state (not on the warm acquire path,
-- where the pool necessarily has state already). A pool joining the set takes
-- the manager's shutdown flag as its manager_shutdown field, so the warm
-- acquire reads one hash (setshutdown.lua keeps the copies in step).
local function touch_pool(name, pk, now)
  if redis.call('SADD', K_POOLS, name) == 1 and redis.call('HGET', K_MANAGER, 'shutdown') == '1' then
    redis.call('HSET', pk.hash, 'manager_shutdown', '1')
  end
  redis.call('HSETNX', pk.hash, 'activated_at', now)
end

-- to_deleting moves a record (already out of its old index) to deleting.
local function to_deleting(id, pk, reason, now)
  redis.call('HSET', SB_PREFIX .. id, 'state', 'deleting', 'deleting_since', now, 'delete_reason', reason)
  redis.call('ZADD', K_DELETING_ALL, now, id)
  redis.call('ZADD', pk.deleting, now, id)
end
