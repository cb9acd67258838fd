"""The ``workers`` command. An error becomes one line on stderr and a named exit code."""

from __future__ import annotations

import logging
import math
import os
import sys
from typing import Any

import click

from jobs.errors import ConfigError, JobsError
from jobs.event_loop import DEFAULT_MAX_ASYNC, MAX_ASYNC, default_max_async
from jobs.rq_format.markers import DEFAULT_MAX_LOSSES
from jobs.urls import RedisTarget, parse, redact

from .exit_codes import ExitCode


class Seconds(click.FloatRange):
    """A duration in seconds: a ``FloatRange`` that also refuses nan and inf, which click lets
    through every bound (a nan --shutdown-timeout would never run out)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        seconds = float(super().convert(value, param, ctx))
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return seconds


_URL = click.option("--url", envvar="JOBFLEET_URL", required=True, show_envvar=True,
                    help="Redis URL, e.g. redis://localhost:6379/0 (also JOBFLEET_URL).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """jobfleet workers: run and inspect the processes that execute queued jobs."""


@cli.command()
@_URL
@click.option("--queue", "-q", "queues", multiple=True, metavar="NAME",
              help="Queue to work on, in priority order; repeat for several.  [default: default]")
@click.option("-n", "--processes", type=click.IntRange(1, 1024), default=None,
              help="Worker processes.  [default: the CPU count]")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True, metavar="N",
              help="Jobs each worker process runs at once, on threads: for I/O-bound jobs (docs/supervisor.md).")
@click.option("--max-async", type=click.IntRange(0, MAX_ASYNC), default=None, metavar="M",
              help="async def jobs each worker process runs at once on its event loop (0: one at a time, as "
                   f"rq worker).  [default: {DEFAULT_MAX_ASYNC} with --threads, else 0]")
@click.option("--max-idle-time", type=Seconds(0), default=None, metavar="SECONDS",
              help="A worker exits once no job came for SECONDS; the supervisor exits when all have (rq worker --max-idle-time).")
@click.option("--dequeue-strategy", type=click.Choice(["default", "round_robin", "random"]), default="default",
              show_default=True, help="Order the queues are served in: default (priority), round_robin or random, as rq worker.")
@click.option("--max-jobs-per-child", type=click.IntRange(1), default=None, metavar="N",
              help="Replace a worker process after it ran N jobs (bounds memory leaks).")
@click.option("--max-losses", type=click.IntRange(1), default=DEFAULT_MAX_LOSSES, show_default=True,
              help="Times a job may lose its worker (SIGKILL, OOM, segfault) before it is failed as lost.")
@click.option("--shutdown-timeout", type=Seconds(0), default=30.0, show_default=True, metavar="SECONDS",
              help="On SIGTERM/SIGINT, how long running jobs may finish before they are put back.")
@click.option("--host-timeout", type=Seconds(0.5), default=45.0, show_default=True, metavar="SECONDS",
              help="A supervisor silent this long counts as a lost host; another re-runs its jobs.")
@click.option("--timeout-grace", type=Seconds(0), default=10.0, show_default=True, metavar="SECONDS",
              help="How long a job may run past its timeout (ignoring SIGALRM) before its worker is killed.")
@click.option("--worker-class", default="workers.worker.BatchWorker", show_default=True, metavar="DOTTED.PATH",
              help="A subclass of workers.worker.BatchWorker.")
@click.option("--hook", "hooks", multiple=True, metavar="DOTTED.PATH",
              help="A workers.hooks.Hook subclass every worker runs around its jobs; repeat for several.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="info", show_default=True)
@click.option("--serializer", type=click.Choice(["pickle", "json"]), default="pickle", show_default=True,
              help="RQ serializer of the jobs (must match the producers').")
@click.option("--path", "paths", multiple=True, default=["."], show_default=True, metavar="DIR",
              help="Directory put first on sys.path, so job functions' modules import (as rq worker --path).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="Serve Prometheus metrics on http://HOST:PORT/metrics (off unless given; docs/monitoring.md).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address the metrics listen on; 0.0.0.0 exposes them to the network.")
def supervise(url: str, queues: tuple[str, ...], processes: int | None, threads: int, max_async: int | None,
              burst: bool, max_idle_time: float | None,
              dequeue_strategy: str, max_jobs_per_child: int | None,
              max_losses: int, shutdown_timeout: float, host_timeout: float, timeout_grace: float, worker_class: str,
              hooks: tuple[str, ...], log_level: str, serializer: str, paths: tuple[str, ...],
              metrics_port: int | None, metrics_host: str) -> None:
    """Run N RQ worker processes; restart dead ones and re-run the jobs they held.

    SIGTERM or Ctrl-C: take no new jobs, let running ones finish (--shutdown-timeout), put the
    rest back on the queue and exit 0. A second Ctrl-C stops at once, still putting jobs back.
    """
    from .supervisor import StartFailed, Supervisor, SupervisorConfig

    _setup_logging(log_level)
    _check_redis_url(url)
    for path in reversed(paths):  # the children are forked, so they inherit it
        sys.path.insert(0, os.path.abspath(path))
    config = SupervisorConfig(url=url, queues=queues or ("default",), processes=processes or os.cpu_count() or 1,
                              threads=threads, max_async=default_max_async(threads) if max_async is None else max_async,
                              burst=burst, max_idle_s=max_idle_time, dequeue_strategy=dequeue_strategy,
                              max_jobs_per_child=max_jobs_per_child, max_losses=max_losses,
                              shutdown_timeout_s=shutdown_timeout, host_timeout_s=host_timeout,
                              timeout_grace_s=timeout_grace,
                              worker_class=worker_class, hooks=hooks, serializer=serializer,
                              log_level=log_level.upper(), metrics_port=metrics_port, metrics_host=metrics_host)
    try:
        code = Supervisor(config).run()
    except StartFailed as exc:
        _fail(str(exc), ExitCode.START_FAILED)
    except JobsError as exc:  # e.g. BackendUnavailable: wrong password or certificate; says what to do
        _fail(str(exc), ExitCode.ERROR)
    except Exception as exc:  # noqa: BLE001 - the one place an unexpected error becomes one line
        logging.getLogger(__name__).debug("supervisor failed", exc_info=True)
        _fail(f"{type(exc).__name__}: {exc} (run with --log-level debug for the traceback)", ExitCode.ERROR)
    sys.exit(code)


@cli.command()
@_URL
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema: docs/status.schema.json).")
def status(url: str, as_json: bool) -> None:
    """Show supervisors and hosts, each worker and its current job, queue depths, failed and lost counts."""
    from .status import collect, render, to_json

    _check_redis_url(url)
    from jobs.backends.redis_errors import translated
    from jobs.urls import connect, describe_server

    connection = connect(url)
    try:
        with translated(describe_server(connection)):
            report = collect(connection)
            text = to_json(report) if as_json else render(report)
    except JobsError as exc:
        _fail(str(exc), ExitCode.ERROR)
    click.echo(text)


def _check_redis_url(url: str) -> None:
    try:
        target = parse(url)
    except ConfigError as exc:
        _fail(str(exc), ExitCode.USAGE)
    if not isinstance(target, RedisTarget) or target.fake:
        _fail(f"{redact(url)!r} is not a Redis URL: workers need redis://, rediss://, unix:// or redis+sentinel://", ExitCode.USAGE)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    # RQ logs every job at INFO and sets rq.worker's level itself: keep RQ to warnings and up.
    for name in ("rq", "rq.worker"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def _fail(message: str, code: int) -> None:
    click.echo(f"workers: error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Console entry point; unexpected errors become one line too."""
    from .argv import hide_url_password

    hide_url_password()  # a password in --url must not stay readable in `ps` (docs/security.md)
    try:
        cli(prog_name="workers")
    except ConfigError as exc:
        _fail(str(exc), ExitCode.USAGE)


if __name__ == "__main__":
    main()
