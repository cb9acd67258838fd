"""``rediss://`` against a real redis-server with TLS on a port of its own and a CA the test made.

The client API and ``workers supervise`` both run jobs over TLS; a client that cannot verify
the server, or lacks the client certificate the server asks for, gets one clear error.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import jobs
from tests import jobs as job_functions
from tests.conftest import _no_redis as no_redis
from tests.redis_server import redis_server_path
from tests.supervisor_helpers import ROOT, Supervise
from tests.tls import make_certs, start_tls_redis

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("tls")))


def _tls_server(certs, client_auth: bool):
    if redis_server_path() is None:
        no_redis("redis-server is not installed")
    server = start_tls_redis(certs, client_auth=client_auth)
    yield server
    server.close()


@pytest.fixture(scope="module")
def tls_only(certs):
    """TLS only (plain port off); clients need the CA, not a certificate of their own."""
    yield from _tls_server(certs, client_auth=False)


@pytest.fixture(scope="module")
def mutual_tls(certs):
    """TLS with ``--tls-auth-clients yes``: clients must also present a certificate."""
    yield from _tls_server(certs, client_auth=True)


def _flushed(server):
    client = server.client()
    client.flushall()
    client.close()
    return server


@pytest.fixture
def tls_server(tls_only):
    return _flushed(tls_only)


@pytest.fixture
def mtls_server(mutual_tls):
    return _flushed(mutual_tls)


@pytest.fixture(params=["tls", "mtls"])
def any_tls_server(request, tls_only, mutual_tls):
    return _flushed(tls_only if request.param == "tls" else mutual_tls)


def _dbsize(server) -> int:
    client = server.client()
    try:
        return int(client.dbsize())
    finally:
        client.close()


def test_a_client_with_the_ca_and_the_supervisor_run_jobs_over_tls(any_tls_server):
    # Given a queue on a rediss:// URL that carries the CA (and, for mTLS, the client pair)
    url = any_tls_server.url()
    with jobs.Queue(url) as queue:
        # When the client enqueues jobs and `workers supervise --burst` runs them over TLS
        submitted = [queue.enqueue(job_functions.square, n) for n in range(5)]
        with Supervise(url, "-n", "2", "--burst", "--log-level", "info") as supervisor:
            code = supervisor.wait(timeout=60)
            output = supervisor.output()
        # Then every result comes back to the client over TLS
        assert code == 0, output
        assert [job.result(timeout=30) for job in submitted] == [0, 1, 4, 9, 16]


def test_without_the_ca_the_client_is_told_certificate_verification_failed_and_what_to_do(tls_server):
    # Given a rediss:// URL without ssl_ca_certs: the server's CA is in no trust store
    with jobs.Queue(tls_server.url(ssl_ca_certs=None)) as queue:
        # When the client enqueues
        with pytest.raises(jobs.BackendUnavailable) as caught:
            queue.enqueue(job_functions.square, 3)
    # Then the one-line message says verification failed and names the URL option that fixes it
    message = str(caught.value)
    assert "certificate verification failed" in message and "ssl_ca_certs=" in message
    assert "\n" not in message
    # And nothing was written
    assert _dbsize(tls_server) == 0


@pytest.mark.parametrize("query, connects", [
    ({"ssl_cert_reqs": "required"}, True),        # the CA given: verified
    ({"ssl_min_version": "771"}, True),           # TLS 1.2 or later (ssl.TLSVersion.TLSv1_2)
    ({"ssl_cert_reqs": "none", "ssl_ca_certs": None}, True),      # redis-py: no verification at all
    ({"ssl_cert_reqs": "optional", "ssl_ca_certs": None}, False),  # a certificate sent is still checked
    ({"ssl_cert_reqs": "required", "ssl_ca_certs": None}, False),
])
def test_ssl_cert_reqs_behaves_as_redis_py_defines_it(tls_server, query, connects):
    # Given a rediss:// URL with ssl_cert_reqs (and the CA or not)
    with jobs.Queue(tls_server.url(**query)) as queue:
        # When the client enqueues
        if connects:
            job = queue.enqueue(job_functions.square, 3)
            # Then the job is on the server
            assert job.status == "queued"
        else:
            # Then verification fails with the clear error
            with pytest.raises(jobs.BackendUnavailable, match="certificate verification failed"):
                queue.enqueue(job_functions.square, 3)


def test_a_server_that_asks_for_a_client_certificate_refuses_a_client_without_one(mtls_server):
    # Given a server with --tls-auth-clients yes and a URL with the CA but no client pair
    url = mtls_server.url(ssl_certfile=None, ssl_keyfile=None)
    with jobs.Queue(url) as queue:
        # When the client enqueues
        with pytest.raises(jobs.BackendUnavailable) as caught:
            queue.enqueue(job_functions.square, 3)
    # Then the message says a client certificate is required and how to give it
    # (TLS 1.3 lets the server refuse with an alert or simply close: both say the same)
    assert "requires a TLS client certificate" in str(caught.value)
    assert "ssl_certfile=" in str(caught.value) and "ssl_keyfile=" in str(caught.value)
    assert _dbsize(mtls_server) == 0


def test_the_supervisor_without_the_ca_stops_with_one_line_instead_of_retrying(tls_server):
    # Given `workers supervise` on a rediss:// URL without the CA
    url = tls_server.url(ssl_ca_certs=None)
    # When it starts
    result = subprocess.run([sys.executable, "-m", "workers", "supervise", "--url", url, "-n", "1", "--burst"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    # Then it exits 1 with one error line saying verification failed (waiting would not cure it)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("workers: error:")]
    assert len(errors) == 1 and "certificate verification failed" in errors[0], result.stderr
