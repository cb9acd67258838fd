-- The successes of one batch, written as RQ's worker writes each (rq.results.Result.save, then
-- the job hash): one command for the batch instead of four per job, inside the batch's MULTI.
-- ARGV: [1] number of jobs, then per job 7 + 2n values:
--   job key, result stream key, status, ended_at, started_at ('' when unknown),
--   ttl (seconds; -1 keeps both for ever), n, then the result's n field/value pairs.
-- Reply: the number of jobs written.
local i = 2
local count = tonumber(ARGV[1])
for _ = 1, count do
  local job_key, result_key, status, ended, started = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local ttl = tonumber(ARGV[i + 5])
  local n = tonumber(ARGV[i + 6])
  redis.call('XADD', result_key, 'MAXLEN', '~', '10', '*', unpack(ARGV, i + 7, i + 6 + 2 * n))
  if ttl == -1 then
    redis.call('PERSIST', result_key)
  else
    redis.call('EXPIRE', result_key, ttl)
  end
  if started ~= '' then
    redis.call('HSET', job_key, 'status', status, 'ended_at', ended, 'last_heartbeat', ended, 'started_at', started)
  else
    redis.call('HSET', job_key, 'status', status, 'ended_at', ended, 'last_heartbeat', ended)
  end
  if ttl > 0 then
    redis.call('EXPIRE', job_key, ttl)
  end
  i = i + 7 + 2 * n
end
return count
