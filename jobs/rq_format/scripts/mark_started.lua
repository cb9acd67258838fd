-- Mark one job id, already moved to the held list KEYS[1] by BLMOVE, as started, and the worker
-- busy. KEYS[2] is the queue key the id came from; ARGV as in dequeue_batch.lua, with ARGV[1]
-- the job id; the reply has the same shape (one row).
local id = ARGV[1]
local qname = string.sub(KEYS[2], #ARGV[5] + 1)
local jkey = ARGV[7] .. id
local fields = redis.pcall('HGETALL', jkey)
if fields.err then fields = {} end  -- not a hash: treated as gone
if #fields > 0 then
  redis.call('HSET', jkey, 'status', 'started', 'worker_name', ARGV[2],
             'started_at', ARGV[3], 'last_heartbeat', ARGV[3])
  for f = 1, #fields, 2 do  -- a job with ttl= expires while queued, not while it runs (RQ persists it)
    if fields[f] == 'ttl' then redis.call('PERSIST', jkey) break end
  end
end
redis.call('ZADD', ARGV[6] .. qname, ARGV[4], id .. ':' .. ARGV[2])
redis.call('HSET', ARGV[8], 'state', 'busy')
return {{qname, id, fields}}
