-- After parents ended: queue the dependents whose last parent this was, keep wanted results.
-- ARGV: [1] job key prefix, [2] queue key prefix, [3] deferred registry prefix, [4] RQ's set of
--       queues, [5] enqueued_at stamp, [6] result stream prefix, [7] '1': failures only (the parents
--       are failing right now, their failure not written yet: doom the dependents that cannot
--       run, leave the others for the release after the write), [8] the prefix of RQ's
--       dependencies sets (``rq:job::<id>:dependencies``, sic), [9..] parent ids
-- Reply: flat {dependent id, parent id, parent status, ...} of dependents that must not run.
local prefix = ARGV[1]
local failures_only = ARGV[7] == '1'
local doomed = {}
local function met(st, allow)
  return st == 'finished' or (st == 'failed' and allow)
end
local function unmet_count(d, allow)
  local n = 0
  for _, dep in ipairs(redis.call('SMEMBERS', ARGV[8] .. d .. ':dependencies')) do
    if not met(redis.call('HGET', prefix .. dep, 'status'), allow) then n = n + 1 end
  end
  return n
end
for i = 9, #ARGV do
  local p = ARGV[i]
  local pkey = prefix .. p
  local st = redis.call('HGET', pkey, 'status')
  if failures_only and st then st = 'failed' end
  local ended = st == 'finished' or st == 'failed' or st == 'canceled' or st == 'stopped'
  if ended then
    local readers = tonumber(redis.call('HGET', pkey, 'jobfleet_readers') or '0')
    if readers > 0 and (st == 'finished' or st == 'failed') then
      redis.call('PERSIST', pkey)
      redis.call('PERSIST', ARGV[6] .. p)
    end
    local depkey = pkey .. ':dependents'
    for _, d in ipairs(redis.call('SMEMBERS', depkey)) do
      local dkey = prefix .. d
      if redis.call('HGET', dkey, 'status') == 'deferred' then
        local allow = redis.call('HGET', dkey, 'allow_dependency_failures') == '1'
        if met(st, allow) then
          if not failures_only then
            local n
            if redis.call('HEXISTS', dkey, 'jobfleet_unmet') == 1 then
              n = redis.call('HINCRBY', dkey, 'jobfleet_unmet', -1)
            else
              n = unmet_count(d, allow)  -- a dependent RQ itself wrote
            end
            if n <= 0 then
              local origin = redis.call('HGET', dkey, 'origin')
              redis.call('ZREM', ARGV[3] .. origin, d)
              redis.call('HSET', dkey, 'status', 'queued', 'enqueued_at', ARGV[5])
              redis.call('RPUSH', ARGV[2] .. origin, d)
              redis.call('SADD', ARGV[4], ARGV[2] .. origin)
            end
            redis.call('SREM', depkey, d)
          end
        else
          table.insert(doomed, d); table.insert(doomed, p); table.insert(doomed, st)
          redis.call('SREM', depkey, d)
        end
      else
        redis.call('SREM', depkey, d)
      end
    end
  end
end
return doomed
