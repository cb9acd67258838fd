-- Shared by dequeue_batch.lua and mark_started.lua (scripts.py puts it in front of them).
-- Mark the job hash jkey started by worker ARGV[2] at ARGV[3] and return its HGETALL (empty
-- when the hash is gone or the key is not a hash). A job with ttl= expires while queued, not
-- while it runs: its hash is persisted, as RQ's worker does.
local function start_job(jkey)
  local fields = redis.pcall('HGETALL', jkey)
  if fields.err then fields = {} end  -- not a hash: treated as gone
  if #fields > 0 then
    redis.call('HSET', jkey, 'status', 'started', 'worker_name', ARGV[2],
               'started_at', ARGV[3], 'last_heartbeat', ARGV[3])
    for f = 1, #fields, 2 do
      if fields[f] == 'ttl' then redis.call('PERSIST', jkey) break end
    end
  end
  return fields
end

-- A worker that holds jobs is always findable by a lost-host scan: its name is in its
-- supervisor's workers set and the supervisor in jobfleet's supervisors set, written in the
-- same atomic step as the claim (a supervisor wrongly taken for lost, whose sets another one
-- cleared, is registered again by its next claim). ARGV[10]: the supervisor id ('' for a worker
-- without one), ARGV[11]: the supervisors set, ARGV[12]: that supervisor's workers set.
local function register_holder()
  if ARGV[10] ~= nil and ARGV[10] ~= '' then
    redis.call('SADD', ARGV[11], ARGV[10])
    redis.call('SADD', ARGV[12], ARGV[2])
  end
end
