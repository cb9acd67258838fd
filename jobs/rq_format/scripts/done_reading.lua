-- A dependent read (or will never read) its parents' results: the last reader gives each
-- parent back its own result_ttl.
-- ARGV: [1] job key prefix, [2] result stream prefix, [3] default result_ttl, [4] default failure_ttl,
--       [5..] parent ids
for i = 5, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  if redis.call('EXISTS', key) == 1 and redis.call('HINCRBY', key, 'jobfleet_readers', -1) <= 0 then
    local saved = redis.call('HGET', key, 'jobfleet_result_ttl')
    redis.call('HDEL', key, 'jobfleet_readers', 'jobfleet_result_ttl')
    if saved and saved ~= '' then redis.call('HSET', key, 'result_ttl', saved) else redis.call('HDEL', key, 'result_ttl') end
    local ttl = tonumber(ARGV[3])
    if saved and saved ~= '' then ttl = tonumber(saved) end
    local st = redis.call('HGET', key, 'status')
    if st == 'failed' then ttl = tonumber(redis.call('HGET', key, 'failure_ttl') or ARGV[4]) end
    if ttl > 0 and (st == 'finished' or st == 'failed') then
      redis.call('EXPIRE', key, ttl)
      redis.call('EXPIRE', ARGV[2] .. ARGV[i], ttl)
    end
  end
end
return 0
