"""Keep a password given with ``--url`` off the command line that ``ps`` shows.

Any user of the machine can read ``/proc/PID/cmdline``; only the process's own user (and root)
can read its environment. So when ``--url`` holds a password, ``workers`` re-executes itself
at once with the option removed and the URL in ``JOBFLEET_URL`` (which ``--url`` reads), before
it connects anywhere or forks a worker. The children, forked later, share the clean command
line.
"""

from __future__ import annotations

import os
import sys

from jobs.urls import redact

#: The variable ``--url`` falls back to.
URL_ENV = "JOBFLEET_URL"


def split_secret_url(argv: list[str]) -> tuple[list[str], str] | None:
    """``(argv without its --url options, the URL click would use)`` when one holds a secret, else None.

    Like click, the last ``--url`` wins; nothing after ``--`` is an option.
    """
    kept: list[str] = []
    urls: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            kept += argv[index:]
            break
        if arg == "--url" and index + 1 < len(argv):
            urls.append(argv[index + 1])
            index += 2
            continue
        if arg.startswith("--url="):
            urls.append(arg[len("--url="):])
        else:
            kept.append(arg)
        index += 1
    if not any(redact(url) != url for url in urls):
        return None
    return kept, urls[-1]


def hide_url_password() -> None:
    """Re-execute this process without a secret ``--url`` on its command line; return if there is none."""
    found = split_secret_url(list(sys.orig_argv))
    if found is None:
        return
    argv, url = found
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv[1:]], {**os.environ, URL_ENV: url})
