"""`await job` on every backend without blocking the loop, and joblib's Parallel on the queue."""

from __future__ import annotations

import asyncio

import pytest

import jobs
from tests.dropin_fixtures import ALL, url  # noqa: F401 - the fixture
from tests.jobs import divide, sleep_then, square


async def _await_while_ticking(job: jobs.Job) -> tuple[object, int]:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        value = await asyncio.wait_for(job, timeout=60)
    finally:
        ticker.cancel()
    return value, ticks


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_awaiting_a_job_returns_its_value_while_the_loop_keeps_ticking(url):
    with jobs.Queue(url) as q:
        # Given a job that takes a while, When a coroutine awaits it beside a timer task
        value, ticks = asyncio.run(_await_while_ticking(q.enqueue(sleep_then, 0.5, "done")))
        # Then it gets the value, and the timer ran meanwhile: the loop was never blocked
        assert value == "done"
        assert ticks >= 5


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_awaiting_a_failed_job_raises_what_result_raises(url):
    with jobs.Queue(url) as q:
        with pytest.raises(jobs.JobFailed) as raised:
            asyncio.run(asyncio.wait_for(q.enqueue(divide, 1, 0), timeout=60))
    assert raised.value.exc_type == "ZeroDivisionError"
    assert isinstance(raised.value.exception, ZeroDivisionError)


@pytest.mark.parametrize("url", ["local", "supervised"], indirect=True)
def test_cancelling_the_await_does_not_cancel_the_job(url):
    with jobs.Queue(url) as q:
        job = q.enqueue(sleep_then, 0.5, "still ran")

        async def give_up() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(job, timeout=0.05)

        # When the await is cancelled, Then the job runs on to its end
        asyncio.run(give_up())
        assert job.result(timeout=60) == "still ran"


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_executor_futures_work_in_asyncio(url):
    async def main(executor: jobs.Executor) -> list[int]:
        loop = asyncio.get_running_loop()
        wrapped = asyncio.wrap_future(executor.submit(square, 3))
        in_executor = loop.run_in_executor(executor, square, 4)
        return list(await asyncio.wait_for(asyncio.gather(wrapped, in_executor), timeout=60))

    with jobs.Executor(url, max_workers=2) as executor:
        assert asyncio.run(main(executor)) == [9, 16]


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_joblib_parallel_runs_on_the_queue(url):
    joblib = pytest.importorskip("joblib")
    import jobs.joblib  # noqa: F401 - registers "jobfleet"

    # Given joblib configured for the queue, When Parallel runs, Then its results come back in order
    with joblib.parallel_config(backend="jobfleet", url=url):
        assert joblib.Parallel(n_jobs=2)(joblib.delayed(square)(x) for x in range(20)) == [x * x for x in range(20)]
    with joblib.parallel_backend("jobfleet", url=url):
        with pytest.raises(ZeroDivisionError):
            joblib.Parallel(n_jobs=2)(joblib.delayed(divide)(1, x) for x in (1, 0, 2))
