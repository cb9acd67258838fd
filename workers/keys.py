"""Redis keys jobfleet adds next to RQ's own, and the one Lua script that dequeues a batch.

Everything RQ owns (``rq:job:*``, ``rq:queue:*``, ``rq:wip:*``, ``rq:worker:*``, results) is
written in RQ's format; the keys below only say *who holds what*, so that a job whose process
or host died is found again:

- ``jobfleet:held:<worker>`` (list): ids the worker took off its queues and has not yet
  settled, in the order it runs them. The first one is running (or just finished, its result
  not yet written); the rest are prefetched.
- ``jobfleet:supervisors`` (set) of supervisor ids; ``jobfleet:supervisor:<id>`` (hash with a
  TTL): that supervisor's heartbeat. A member whose hash expired is a lost host.
- ``jobfleet:supervisor:<id>:workers`` (set): worker names that may still hold jobs.
- ``jobfleet:claim:<worker>`` (string, NX with a TTL): taken by the one supervisor that
  re-queues a dead worker's held jobs, so each job is re-queued exactly once.
"""

from __future__ import annotations

PREFIX = "jobfleet:"
SUPERVISORS = PREFIX + "supervisors"


def held(worker_name: str) -> str:
    return f"{PREFIX}held:{worker_name}"


def supervisor(supervisor_id: str) -> str:
    return f"{PREFIX}supervisor:{supervisor_id}"


def supervisor_workers(supervisor_id: str) -> str:
    return f"{PREFIX}supervisor:{supervisor_id}:workers"


def claim(worker_name: str) -> str:
    return f"{PREFIX}claim:{worker_name}"


#: Moves up to ARGV[1] ids from the queues (KEYS[2..]) to the worker's held list (KEYS[1]) in one
#: atomic step, marks each job started in RQ's format (status, worker_name, started_at, the
#: started registry ``rq:wip:<queue>`` with member ``<job id>:<worker name>``), and returns
#: ``{queue name, job id, HGETALL of the job}`` for each: one round trip per batch. It also sets
#: the RQ worker's ``state`` (``busy`` when it got jobs, else ``idle``) at no extra round trip.
#: ARGV: count, worker name, started_at (RQ's utcformat), wip score, queue key prefix,
#: wip key prefix, job key prefix, RQ worker key.
DEQUEUE_BATCH = """
local want = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  if want <= 0 then break end
  local ids = redis.call('LPOP', KEYS[i], want)
  if ids then
    local qname = string.sub(KEYS[i], #ARGV[5] + 1)
    local members = {}
    redis.call('RPUSH', KEYS[1], unpack(ids))
    for _, id in ipairs(ids) do
      local jkey = ARGV[7] .. id
      members[#members + 1] = ARGV[4]
      members[#members + 1] = id .. ':' .. ARGV[2]
      local fields = redis.call('HGETALL', jkey)
      if #fields > 0 then
        redis.call('HSET', jkey, 'status', 'started', 'worker_name', ARGV[2],
                   'started_at', ARGV[3], 'last_heartbeat', ARGV[3])
      end
      out[#out + 1] = {qname, id, fields}
    end
    redis.call('ZADD', ARGV[6] .. qname, unpack(members))
    want = want - #ids
  end
end
redis.call('HSET', ARGV[8], 'state', #out > 0 and 'busy' or 'idle')
return out
"""


#: Marks one id already moved to the held list by BLMOVE (ARGV[9] == "0") or popped by BLMPOP
#: (ARGV[9] == "1": push it to the held list first) as started and the worker busy; same ARGV
#: and reply as above, with KEYS[2] the queue key and ARGV[1] the job id.
MARK_STARTED = """
local id = ARGV[1]
local qname = string.sub(KEYS[2], #ARGV[5] + 1)
if ARGV[9] == '1' then redis.call('RPUSH', KEYS[1], id) end
local jkey = ARGV[7] .. id
local fields = redis.call('HGETALL', jkey)
if #fields > 0 then
  redis.call('HSET', jkey, 'status', 'started', 'worker_name', ARGV[2],
             'started_at', ARGV[3], 'last_heartbeat', ARGV[3])
end
redis.call('ZADD', ARGV[6] .. qname, ARGV[4], id .. ':' .. ARGV[2])
redis.call('HSET', ARGV[8], 'state', 'busy')
return {{qname, id, fields}}
"""
