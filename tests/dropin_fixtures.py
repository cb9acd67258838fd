"""The backend fixture the drop-in tests share: import ``url`` and parametrize it indirectly."""

from __future__ import annotations

import pytest

#: local://, fakeredis:// and redis:// served by `workers supervise`.
ALL = ["local", "fakeredis", "supervised"]


@pytest.fixture
def url(request):
    kind = request.param
    if kind == "local":
        return "local://2"
    if kind == "fakeredis":
        return f"fakeredis://{request.node.name}"
    return request.getfixturevalue("supervised_url")
