"""fakeredis://: the redis:// code path in memory, for users' own tests."""

from __future__ import annotations

import pytest
import rq

import jobs
from jobs.rq_format import markers
from jobs.rq_format.writes import fail_unrun
from tests.jobs import square


def test_jobs_wait_in_the_queue_until_run_pending_runs_them():
    with jobs.Queue("fakeredis://pending") as q:
        job = q.enqueue(square, 4)
        assert job.status == "queued"
        assert q.run_pending() == 1
        assert job.status == "finished"
        assert job.result(timeout=0) == 16
        assert q.run_pending() == 0


def test_two_queues_on_one_fakeredis_name_share_their_jobs():
    with jobs.Queue("fakeredis://shared") as producer, jobs.Queue("fakeredis://shared") as other:
        job = producer.enqueue(square, 3)
        assert other.job(job.id).result(timeout=10) == 9
    with jobs.Queue("fakeredis://elsewhere") as unrelated:
        with pytest.raises(jobs.JobNotFound):
            unrelated.job(job.id)


def test_a_job_given_up_by_a_supervisor_raises_job_lost():
    # Given a job that a supervisor gave up after three losses (as the workers record it)
    with jobs.Queue("fakeredis://lost", "lost") as q:
        job = q.enqueue(square, 1)
        rq_job = rq.job.Job.fetch(job.id, connection=q.backend.rq_queue.connection)
        q.backend.rq_queue.remove(rq_job)
        reason = "lost 3 times: worker died by signal 9"
        marker = markers.mark_lost(rq_job.meta, reason)
        with q.backend.rq_queue.connection.pipeline() as pipe:
            fail_unrun(pipe, rq_job, markers.LOST_EXC_PREFIX + reason, marker)
            pipe.execute()
        # Then waiting for it raises JobLost with the reason
        with pytest.raises(jobs.JobLost, match=reason):
            job.result(timeout=5)
