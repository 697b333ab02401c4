-- gap.lua: dead-letters a gap marker, once, for a webhook whose cursor is
-- behind entries the outbox dropped at its cap (lib.lua emit notes how far a
-- trim reached in the manager's events_trimmed_to). Its events between the
-- cursor and that id are lost: the marker says so, and delivery goes on.
--
-- KEYS[1] webhooks  HASH    as in ack.lua (field <wid>.gap: the gap reported)
-- KEYS[2] dead      STREAM  as in fail.lua; a marker has type "outbox.gap"
-- ARGV[1] wid
-- ARGV[2] cursor        the webhook's cursor
-- ARGV[3] trimmed_to    the oldest entry the trim kept
-- ARGV[4] webhook       the receiver (URL without query or credentials)
-- ARGV[5] dead_maxlen   approximate cap of the dead letter stream
-- ARGV[6] at            now (unix ms)
-- Output: 1 reported now, 0 reported before.
local K_HOOKS, K_DEAD = KEYS[1], KEYS[2]
local wid, cursor, trimmed_to, webhook, dead_maxlen, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('HGET', K_HOOKS, wid .. '.gap') == trimmed_to then return 0 end
redis.call('XADD', K_DEAD, 'MAXLEN', '~', dead_maxlen, '*',
  'id', '', 'type', 'outbox.gap', 'pool', '', 'sandbox_id', '', 'at', at,
  'reason', 'events after ' .. cursor .. ' and before ' .. trimmed_to .. ' were dropped at the outbox cap',
  'webhook', webhook, 'attempts', '0', 'error', 'outbox cap reached')
redis.call('HSET', K_HOOKS, wid .. '.gap', trimmed_to)
return 1
