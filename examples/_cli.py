"""The ``--url`` option every example shares."""

from __future__ import annotations

import argparse
import os


def parse_url(description: str) -> str:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=os.environ.get("JOBFLEET_URL", "local://"),
                        help="queue URL: local://[N] (default), redis://host:port/db, fakeredis://")
    return str(parser.parse_args().url)
