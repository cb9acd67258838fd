"""Make docs/dashboard.png: rq-dashboard over a real `workers supervise` run, shot by headless Chromium.

    python -m tests.dashboard_screenshot        # needs redis-server, chromium, rq-dashboard and six

A private Redis, a supervisor with two workers, a map of 500 jobs, two jobs that fail, a long
job reporting its progress and a few jobs waiting on a queue nobody serves; then four pages
of rq-dashboard (queues, workers, failed jobs, the long job with its progress in its meta)
stacked into one PNG. Everything it starts is
stopped by PID.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

import jobs
from examples.tasks import fetch_page, resize_images, square
from tests.dashboard_helpers import Dashboard, dashboard_missing
from tests.redis_server import start_redis
from tests.supervisor_helpers import ROOT, Supervise, wait_until

OUT = ROOT / "docs" / "dashboard.png"
PAGES = [("/0/view/queues", 480), ("/0/view/workers", 470), ("/0/view/jobs/default/failed/8/asc/1", 620),
         ("/0/view/job/{long_job}", 560)]
WIDTH = 1280


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    return found


def shoot(url: str, path: Path, height: int) -> None:
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={WIDTH},{height}", "--virtual-time-budget=4000", f"--screenshot={path}", url],
                   check=True, capture_output=True, timeout=120)


def workload(url: str) -> jobs.Job:
    """The run the picture shows; returns the long job (still running)."""
    with jobs.Queue(url) as q, jobs.Queue(url, name="reports") as reports:
        q.map(square, range(500), chunksize=10, timeout=120)
        for host in ("http://billing.internal/", "http://search.internal/"):
            failed = q.enqueue(fetch_page, host)
            try:
                failed.result(timeout=30)
            except jobs.JobFailed:
                pass
        for month in range(3):
            reports.enqueue(square, month)
        long_job = q.enqueue(resize_images, 600, 0.1)
        wait_until(lambda: long_job.progress, what="the long job reporting")
        return long_job


def main() -> None:
    missing = dashboard_missing()
    if missing:
        sys.exit(missing)
    server = start_redis()
    try:
        with Supervise(server.url, "-n", "2", "--log-level", "warning") as sup:
            sup.wait_children(2)
            long_job = workload(server.url)
            with Dashboard(server.url) as dashboard, tempfile.TemporaryDirectory() as tmp:
                shots = []
                for index, (path, height) in enumerate(PAGES):
                    shot = Path(tmp) / f"{index}.png"
                    shoot(dashboard.url + path.format(long_job=long_job.id), shot, height)
                    shots.append(Image.open(shot).convert("RGB"))
                sheet = Image.new("RGB", (WIDTH, sum(s.height for s in shots) + 8 * (len(shots) - 1)), "#d0d0d0")
                top = 0
                for shot in shots:
                    sheet.paste(shot, (0, top))
                    top += shot.height + 8
                sheet.save(OUT, optimize=True)
        print(f"wrote {OUT.relative_to(ROOT)}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
