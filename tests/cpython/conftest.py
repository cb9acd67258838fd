"""Each adapted CPython test class runs on local:// and on redis:// served by `workers supervise`:
its ``BACKEND`` names which; the class-scoped fixture puts the URL on the class."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="class")
def backend_url(request):
    kind = request.cls.BACKEND
    request.cls.url = "local://4" if kind == "local" else request.getfixturevalue("supervised_url")
    yield request.cls.url
