-- fail.lua: records a failed delivery of the batch at a webhook's head. Below
-- the attempt limit the head waits until next_at; at the limit the batch's
-- events go to the dead letter stream and the cursor moves past them.
--
-- KEYS[1] webhooks  HASH    as in ack.lua
-- KEYS[2] dead      STREAM  dead letters: id, type, pool, sandbox_id, at,
--                           reason, webhook, attempts, error
-- ARGV[1] wid
-- ARGV[2] expected      the cursor the caller read ("" when none yet)
-- ARGV[3] cursor        the batch's last stream id
-- ARGV[4] max_attempts  webhook_max_attempts (>= 1)
-- ARGV[5] next_at       when to try again (unix ms)
-- ARGV[6] error         the failure, short and free of secrets
-- ARGV[7] webhook       the receiver for the dead letter (URL without query or credentials)
-- ARGV[8] dead_maxlen   approximate cap of the dead letter stream
-- ARGV[9..] the batch's events, six strings each: id, type, pool, sandbox_id, at (ms), reason
-- Output: {code, attempts}: code 0 the cursor moved under us (nothing
--         changed), 1 retry at next_at, 2 dead-lettered and moved past.
local K_HOOKS, K_DEAD = KEYS[1], KEYS[2]
local wid, expected, cursor = ARGV[1], ARGV[2], ARGV[3]
local max_attempts, next_at, err, webhook, dead_maxlen = tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8]

local current = redis.call('HGET', K_HOOKS, wid .. '.cursor') or ''
if current ~= expected then return {0, 0} end

local attempts = redis.call('HINCRBY', K_HOOKS, wid .. '.attempts', 1)
if attempts < max_attempts then
  redis.call('HSET', K_HOOKS, wid .. '.next_at', next_at, wid .. '.last_error', err)
  return {1, attempts}
end

for i = 9, #ARGV, 6 do
  redis.call('XADD', K_DEAD, 'MAXLEN', '~', dead_maxlen, '*',
    'id', ARGV[i], 'type', ARGV[i + 1], 'pool', ARGV[i + 2], 'sandbox_id', ARGV[i + 3],
    'at', ARGV[i + 4], 'reason', ARGV[i + 5],
    'webhook', webhook, 'attempts', tostring(attempts), 'error', err)
end
redis.call('HSET', K_HOOKS, wid .. '.cursor', cursor)
redis.call('HDEL', K_HOOKS, wid .. '.attempts', wid .. '.next_at', wid .. '.last_error')
return {2, attempts}
