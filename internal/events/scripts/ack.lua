-- ack.lua: moves one webhook's cursor past events it acknowledged (or that
-- its filter skips), and clears the head's retry state.
--
-- KEYS[1] webhooks  HASH  <wid>.cursor (stream id), <wid>.attempts,
--                         <wid>.next_at (ms), <wid>.last_error
-- ARGV[1] wid        the webhook's id
-- ARGV[2] expected   the cursor the caller read ("" when none yet)
-- ARGV[3] cursor     the new cursor: the last stream id of the batch
-- Output: 1 moved; 0 the cursor is no longer the expected one (an
--         overlapping deliverer moved it first), nothing changed.
local K_HOOKS = KEYS[1]
local wid, expected, cursor = ARGV[1], ARGV[2], ARGV[3]

local current = redis.call('HGET', K_HOOKS, wid .. '.cursor') or ''
if current ~= expected then return 0 end
redis.call('HSET', K_HOOKS, wid .. '.cursor', cursor)
redis.call('HDEL', K_HOOKS, wid .. '.attempts', wid .. '.next_at', wid .. '.last_error')
return 1
