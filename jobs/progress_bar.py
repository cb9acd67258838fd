"""``progress=True`` on ``map`` and friends: a tqdm bar on stderr, counting results as they arrive.

tqdm is what ``multiprocessing`` users already wrap around ``Pool.imap`` (joblib declined to
ship a bar, joblib#972); here it comes built in, off by default. The bar counts items, not
chunks: ``q.map(f, range(1000), chunksize=100)`` ends at ``1000/1000``. It counts a result when
the call hands it to you, so an ordered ``map`` moves when the next result in order is in; an
``imap_unordered`` moves as each chunk ends.

The bar is made when iteration starts and closed in a ``finally``: a failing item, a
``ResultTimeout``, Ctrl-C or a caller who stops iterating early leaves a closed bar showing how
far it got, never a half-drawn line under the traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from .errors import ConfigError


def check(progress: object) -> bool:
    """``progress=`` must be a bool (a typo like ``progress="yes"`` fails before anything runs)."""
    if not isinstance(progress, bool):
        raise ConfigError(f"progress must be True or False, not {progress!r}")
    return progress


def tracked(results: Iterator[Any], total: int) -> Iterator[Any]:
    """Yield ``results`` unchanged while a bar on stderr counts them up to ``total``."""
    bar = tqdm(total=total, file=sys.stderr, unit="item", dynamic_ncols=True, smoothing=0.1)
    try:
        for value in results:
            bar.update(1)
            yield value
    finally:
        bar.close()
        close = getattr(results, "close", None)
        if close is not None:  # stop the backend's iterator now: it cancels what has not started
            close()
