-- Queue waiting jobs whose parents have all ended well, however that happened (a sweep found
-- them; checked again here, atomically): a parent finished by a plain rq worker, whose release
-- does not count down jobfleet_unmet, or a parent whose hash is gone (RQ counts it as met).
-- ARGV: [1] job key prefix, [2] queue key prefix, [3] deferred registry prefix, [4] RQ's set of
--       queues, [5] enqueued_at stamp, [6] the prefix of RQ's dependencies sets, [7..] dependent ids
-- Reply: the ids queued.
local prefix = ARGV[1]
local out = {}
for i = 7, #ARGV do
  local d = ARGV[i]
  local dkey = prefix .. d
  if redis.call('HGET', dkey, 'status') == 'deferred' then
    local allow = redis.call('HGET', dkey, 'allow_dependency_failures') == '1'
    local parents = redis.call('SMEMBERS', ARGV[6] .. d .. ':dependencies')
    local met = true
    for _, p in ipairs(parents) do
      local st = redis.call('HGET', prefix .. p, 'status')
      if not (st == false or st == 'finished' or (st == 'failed' and allow)) then
        met = false
        break
      end
    end
    if met then
      local origin = redis.call('HGET', dkey, 'origin')
      redis.call('ZREM', ARGV[3] .. origin, d)
      redis.call('HSET', dkey, 'status', 'queued', 'enqueued_at', ARGV[5], 'jobfleet_unmet', 0)
      redis.call('RPUSH', ARGV[2] .. origin, d)
      redis.call('SADD', ARGV[4], ARGV[2] .. origin)
      for _, p in ipairs(parents) do
        redis.call('SREM', prefix .. p .. ':dependents', d)
      end
      out[#out + 1] = d
    end
  end
end
return out
