-- Write one job that waits for parents, in RQ's format, atomically (no WATCH, so no WatchError).
-- KEYS: [1] job hash, [2] its queue list, [3] its deferred registry, [4] RQ's set of queues,
--       [5] its dependencies set
-- ARGV: [1] job id, [2] job key prefix, [3] result stream prefix, [4] allow_failure '1'|'0',
--       [5] score (now), [6] nf: number of hash field/value items, [7] nv: how many of the parents
--       want the value (they are listed first), [8] np: number of parents,
--       [9 .. 8+nf] field/value items, [9+nf .. 8+nf+np] parent ids
-- Reply: {'exists'} | {'missing', parent id} | {status, bad parent id, its status, ...}
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local nf, nv, np = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local first = 9 + nf
local statuses = {}
for i = first, first + np - 1 do
  local st = redis.call('HGET', ARGV[2] .. ARGV[i], 'status')
  if not st then return {'missing', ARGV[i]} end
  statuses[i] = st
end
local allow = ARGV[4] == '1'
local unmet, bad = 0, {}
for i = first, first + np - 1 do
  local st = statuses[i]
  if st == 'canceled' or st == 'stopped' or (st == 'failed' and not allow) then
    table.insert(bad, ARGV[i]); table.insert(bad, st)
  elseif st ~= 'finished' and st ~= 'failed' then
    unmet = unmet + 1
  end
end
local fields = {}
for i = 9, 8 + nf do table.insert(fields, ARGV[i]) end
local status = 'deferred'
if unmet == 0 and #bad == 0 then status = 'queued' end
table.insert(fields, 'status'); table.insert(fields, status)
table.insert(fields, 'jobfleet_unmet'); table.insert(fields, tostring(unmet))
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SADD', KEYS[4], KEYS[2])
for i = first, first + np - 1 do redis.call('SADD', KEYS[5], ARGV[i]) end
if status == 'queued' then
  redis.call('RPUSH', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  for i = first, first + np - 1 do
    local st = statuses[i]
    if st ~= 'finished' and st ~= 'failed' and st ~= 'canceled' and st ~= 'stopped' then
      redis.call('SADD', ARGV[2] .. ARGV[i] .. ':dependents', ARGV[1])
    end
  end
end
-- a parent whose value is wanted is kept (whatever its result_ttl) until its readers read it
for i = first, first + nv - 1 do
  local key = ARGV[2] .. ARGV[i]
  redis.call('HINCRBY', key, 'jobfleet_readers', 1)
  if redis.call('HEXISTS', key, 'jobfleet_result_ttl') == 0 then
    redis.call('HSET', key, 'jobfleet_result_ttl', redis.call('HGET', key, 'result_ttl') or '')
  end
  local st = statuses[i]
  if st == 'finished' or st == 'failed' then
    redis.call('PERSIST', key)
    redis.call('PERSIST', ARGV[3] .. ARGV[i])
  else
    redis.call('HSET', key, 'result_ttl', '-1')
    redis.call('PERSIST', key)
  end
end
local reply = {status}
for _, v in ipairs(bad) do table.insert(reply, v) end
return reply
