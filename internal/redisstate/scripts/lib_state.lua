-- lib_state.lua: helpers of the non-hot-path scripts, spliced at the line
-- "-- @state" after lib.lua (see scripts.go).

local function pool_keys(name)
  local base = POOL_PREFIX .. name
  return { hash = base, ready = base .. ':ready', creating = base .. ':creating',
           in_use = base .. ':in_use', deleting = base .. ':deleting' }
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function is_leader(token)
  return token ~= '' and redis.call('GET', K_LOCK) == token
end

local function shut_down(pk)
  return redis.call('HGET', pk.hash, 'shutdown') == '1' or redis.call('HGET', K_MANAGER, 'shutdown') == '1'
end

-- maybe_drained emits pool.drained after a transition that took a ready or
-- creating sandbox away, when the pool (or manager) is shut down and nothing
-- ready or creating is left.
local function maybe_drained(name, pk, now)
  if shut_down(pk) and redis.call('LLEN', pk.ready) + redis.call('ZCARD', pk.creating) == 0 then
    emit('pool.drained', name, '', now, '')
  end
end

-- leave_creating drops a creating sandbox from the creating indexes.
local function leave_creating(id, rec, pk)
  redis.call('ZREM', pk.creating, id)
  redis.call('ZREM', K_CREATING_ALL, id)
  if (rec.claim_hash or '') ~= '' then redis.call('HINCRBY', pk.hash, 'claims_creating', -1) end
end

-- fail_claim marks a claim failed: it leaves the pending set and lives on for
-- an hour so its caller's next poll learns why (fail_reason "shutdown" answers
-- shut down on every poll, anything else creation failed).
local function fail_claim(hash, now, why)
  local ck = CLAIM_PREFIX .. hash
  if redis.call('EXISTS', ck) == 1 then
    redis.call('HSET', ck, 'failed', '1', 'sandbox_id', '', 'fail_reason', why)
    redis.call('PEXPIRE', ck, 3600000)
  end
  redis.call('ZREM', K_CLAIMS, hash)
end

-- given_pool_keys are the keys of the pool the caller named, in the script's
-- keys line as "pool ready creating in_use pool_deleting".
local function given_pool_keys()
  return { hash = K_POOL, ready = K_READY, creating = K_CREATING, in_use = K_IN_USE, deleting = K_POOL_DELETING }
end

-- fenced_record is the preamble of reconcile's writes to one sandbox: for
-- the leader only, the record of K_SANDBOX, in state want when one is
-- given. It answers the record, or nil and the reply to return.
local function fenced_record(token, want)
  if not is_leader(token) then return nil, { NOT_LEADER } end
  local rec = hgetall(K_SANDBOX)
  if not rec.state then return nil, { NOT_FOUND } end
  if want and rec.state ~= want then return nil, { WRONG_STATE, rec.state } end
  return rec
end

-- over_max_ready: the pool's stock (ready, and creating but for cold claims)
-- is already at the max_ready a pass recorded in its hash; false when none
-- was recorded (the next pass condemns any surplus then).
local function over_max_ready(pk)
  local cap = redis.call('HGET', pk.hash, 'max_ready')
  if not cap then return false end
  local stock = redis.call('LLEN', pk.ready) + redis.call('ZCARD', pk.creating)
    - num(redis.call('HGET', pk.hash, 'claims_creating'))
  return stock >= tonumber(cap)
end
