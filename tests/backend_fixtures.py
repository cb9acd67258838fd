"""The ``queue`` fixture the contract-style tests share: one jobs.Queue per backend, by name.

Parametrize with ``indirect=True`` over ``"local"``, ``"fakeredis"``, ``"redis"`` (a plain RQ
worker serves it) and ``"supervised"`` (``workers supervise`` serves it).
"""

from __future__ import annotations

import pytest

import jobs


@pytest.fixture
def queue(request):
    kind = request.param
    if kind == "local":
        url = "local://2"
    elif kind == "fakeredis":
        url = f"fakeredis://{request.node.name}"
    elif kind == "redis":
        url = request.getfixturevalue("rq_worker_url")
    else:
        url = request.getfixturevalue("supervised_url")
    with jobs.Queue(url) as q:
        yield q
