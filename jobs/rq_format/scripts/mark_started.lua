-- Mark one job id, already moved to the held list KEYS[1] by BLMOVE, as started, and the worker
-- busy. KEYS[2] is the queue key the id came from; ARGV as in dequeue_batch.lua, with ARGV[1]
-- the job id; the reply has the same shape (one row).
local id = ARGV[1]
local qname = string.sub(KEYS[2], #ARGV[5] + 1)
local fields = start_job(ARGV[7] .. id)
redis.call('ZADD', ARGV[6] .. qname, ARGV[4], id .. ':' .. ARGV[2])
register_holder()
redis.call('HSET', ARGV[8], 'state', 'busy')
return {{qname, id, fields}}
