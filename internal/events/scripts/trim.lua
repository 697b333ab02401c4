-- trim.lua: drops the outbox entries every configured webhook has passed.
--
-- KEYS[1] webhooks  HASH    as in ack.lua
-- KEYS[2] events    STREAM  the outbox
-- ARGV[1..] the configured webhooks' ids (at least one)
-- Output: the number of entries removed. Nothing is removed while any
--         webhook has no cursor yet: it still wants the oldest entry.
local K_HOOKS, K_EVENTS = KEYS[1], KEYS[2]

local min_ms, min_seq
for i = 1, #ARGV do
  local c = redis.call('HGET', K_HOOKS, ARGV[i] .. '.cursor')
  if not c then return 0 end
  local ms, seq = string.match(c, '^(%d+)-(%d+)$')
  if not ms then return 0 end
  -- Stream ids compare as (ms, seq); both fit a Lua number exactly (ms is
  -- a unix time in milliseconds, seq a per-millisecond counter).
  local nms, nseq = tonumber(ms), tonumber(seq)
  if min_ms == nil or nms < min_ms or (nms == min_ms and nseq < min_seq) then
    min_ms, min_seq = nms, nseq
  end
end
if min_ms == nil then return 0 end
-- MINID keeps ids >= the threshold, so the threshold is the id just after
-- the smallest cursor. ms and seq are written with %d: tostring could use an
-- exponent for a large ms.
return redis.call('XTRIM', K_EVENTS, 'MINID', string.format('%d-%d', min_ms, min_seq + 1))
