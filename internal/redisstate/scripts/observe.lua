-- observe.lua: the whole state for a reconcile pass, in one consistent read.
--
-- @keys manager all pools claims dynamic
-- Returns {0, manager shutdown ("1"|"0"),
--          {{pool name, pool HGETALL}, ...}    every pool in the pools SET
--                                              (with "_dynamic": "1" when it is
--                                              in the dynamic pools SET),
--          {sandbox HGETALL, ...}              every record, oldest first,
--          {claim HGETALL, ...},               every pending claim
--          untracked, untracked_creating}      as the last pass noted them
-- @lib
-- @state
local pools = {}
for _, n in ipairs(redis.call('SMEMBERS', K_POOLS)) do
  local h = redis.call('HGETALL', pool_keys(n).hash)
  h[#h + 1], h[#h + 2] = '_dynamic', tostring(redis.call('SISMEMBER', K_DYNAMIC, n))
  pools[#pools + 1] = { n, h }
end
local sandboxes = {}
for _, id in ipairs(redis.call('ZRANGE', K_ALL, 0, -1)) do
  local rec = redis.call('HGETALL', SB_PREFIX .. id)
  if #rec > 0 then sandboxes[#sandboxes + 1] = rec end
end
local claims = {}
for _, h in ipairs(redis.call('ZRANGE', K_CLAIMS, 0, -1)) do
  local c = redis.call('HGETALL', CLAIM_PREFIX .. h)
  if #c > 0 then claims[#claims + 1] = c end
end
local apps, deploying = untracked()
return { OK, redis.call('HGET', K_MANAGER, 'shutdown') or '0', pools, sandboxes, claims, apps, deploying }
