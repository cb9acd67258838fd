"""joblib on jobfleet: ``import jobs.joblib`` registers the parallel backend ``"jobfleet"``.

::

    import joblib
    import jobs.joblib  # noqa: F401 - registers the backend

    with joblib.parallel_config(backend="jobfleet", url="redis://host:6379/0"):
        squares = joblib.Parallel(n_jobs=4)(joblib.delayed(square)(x) for x in range(100))

``url`` defaults as for :class:`jobs.Executor` (``$JOBFLEET_URL``, else ``local://<n_jobs>``);
``parallel_backend("jobfleet", url=...)`` works too. joblib's batches travel as jobs of a
:class:`jobs.Executor`, so on Redis the delayed functions must be importable by the workers.
Install with ``pip install 'jobfleet[joblib]'``.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from typing import Any, Callable

from joblib.parallel import AutoBatchingMixin, ParallelBackendBase, register_parallel_backend

from .executor import Executor

__all__ = ["JobfleetBackend"]


class JobfleetBackend(AutoBatchingMixin, ParallelBackendBase):
    """A joblib backend whose batches are jobs on a jobfleet queue."""

    supports_retrieve_callback = True

    def __init__(self, url: str | None = None, name: str = "default", nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None, **backend_kwargs: Any) -> None:
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **backend_kwargs)
        self.url, self.name = url, name
        self._executor: Executor | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """joblib pickles the backend with each batch: the queue stays behind."""
        return (type(self), (self.url, self.name))

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            return 1
        if n_jobs < 0:
            return max((os.cpu_count() or 1) + 1 + n_jobs, 1)
        return n_jobs

    def configure(self, n_jobs: int = 1, parallel: Any = None, prefer: str | None = None, require: str | None = None,
                  **backend_kwargs: Any) -> int:
        n = self.effective_n_jobs(n_jobs)
        self.parallel = parallel
        if self._executor is None:
            self._executor = Executor(self.url, self.name, max_workers=n)
        return n

    def submit(self, func: Callable[[], Any], callback: Callable[[Future[Any]], object] | None = None) -> Future[Any]:
        assert self._executor is not None, "configure() first"
        future = self._executor.submit(func)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, out: Future[Any]) -> Any:
        return out.result()

    def terminate(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        self.terminate()
        if ensure_ready and self.parallel is not None:
            self.configure(n_jobs=self.parallel.n_jobs, parallel=self.parallel)


register_parallel_backend("jobfleet", JobfleetBackend)
