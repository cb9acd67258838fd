-- (After _start_job.lua.) Take up to ARGV[1] job ids off the queues KEYS[2..] (in that order) onto the worker's held
-- list KEYS[1] in one atomic step; mark each job started in RQ's format (status,
-- worker_name, started_at, last_heartbeat in the job hash; member "<job id>:<worker name>" in
-- the started registry); set the RQ worker's state to busy or idle.
-- ARGV: count, worker name, started_at (RQ's utcformat), started-registry score,
--       queue key prefix, started-registry key prefix, job key prefix, RQ worker key,
--       interleave ('1': one job per queue per pass, as RQ's round_robin/random strategies
--       take them; else each queue is emptied before the next, RQ's default priority order),
--       then the holder's registration (see register_holder in _start_job.lua).
-- Reply: {queue name, job id, HGETALL of the job hash (empty when the hash is gone or the key is
-- not a hash)} per job, in the order taken; {queue name, '', {}} for a queue key that is not a
-- list (skipped).
local want = tonumber(ARGV[1])
local out = {}
local skipped = {}

-- Take up to n ids off queue key `qkey`; returns how many were taken.
local function take(qkey, n)
  local ids = redis.pcall('LPOP', qkey, n)
  if type(ids) == 'table' and ids.err then  -- WRONGTYPE: not a list; report it, take nothing
    if not skipped[qkey] then
      skipped[qkey] = true
      out[#out + 1] = {string.sub(qkey, #ARGV[5] + 1), '', {}}
    end
    return 0
  end
  if not ids then return 0 end
  local qname = string.sub(qkey, #ARGV[5] + 1)
  local members = {}
  redis.call('RPUSH', KEYS[1], unpack(ids))
  for _, id in ipairs(ids) do
    members[#members + 1] = ARGV[4]
    members[#members + 1] = id .. ':' .. ARGV[2]
    out[#out + 1] = {qname, id, start_job(ARGV[7] .. id)}
  end
  redis.call('ZADD', ARGV[6] .. qname, unpack(members))
  return #ids
end

if ARGV[9] == '1' then
  local live = {}
  for i = 2, #KEYS do live[#live + 1] = KEYS[i] end
  while want > 0 and #live > 0 do
    local still = {}
    for _, qkey in ipairs(live) do
      if want <= 0 then break end
      if take(qkey, 1) == 1 then
        want = want - 1
        still[#still + 1] = qkey
      end
    end
    live = still
  end
else
  for i = 2, #KEYS do
    if want <= 0 then break end
    want = want - take(KEYS[i], want)
  end
end
if want < tonumber(ARGV[1]) then register_holder() end
redis.call('HSET', ARGV[8], 'state', want < tonumber(ARGV[1]) and 'busy' or 'idle')
return out
