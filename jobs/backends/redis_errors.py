"""Translate redis-py's errors into jobfleet's, at the backend edge.

Every message names the server as ``host:port`` and never holds a password.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from ..errors import BackendUnavailable, JobsError

#: Redis errors that waiting may cure (the server is down, restarting or slow): every retry
#: loop catches exactly these; anything else is a bug or a permanent refusal (:func:`is_permanent`).
TRANSIENT_ERRORS: tuple[type[redis.RedisError], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@contextmanager
def translated(server: str) -> Iterator[None]:
    """Run a block of Redis calls; raise :class:`BackendUnavailable` / :class:`JobsError` instead."""
    try:
        yield
    except redis.AuthenticationError as exc:
        if _no_credentials_given(exc):
            raise BackendUnavailable(
                f"Redis at {server} needs a password: put it in the URL, redis://:PASSWORD@host:port/0 "
                "(or redis://USER:PASSWORD@host:port/0 for an ACL user)"
            ) from exc
        raise BackendUnavailable(
            f"Redis at {server} refused the credentials (authentication failed): check the user and password in the queue URL"
        ) from exc
    except redis.exceptions.NoPermissionError as exc:
        raise BackendUnavailable(
            f"the Redis user at {server} lacks a permission the queue needs ({_first_line(exc)}): grant it in the ACL"
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        tls_problem = _tls_problem(server, exc)
        if tls_problem:
            raise BackendUnavailable(tls_problem) from exc
        raise BackendUnavailable(
            f"Redis at {server} is unavailable ({_first_line(exc)}): start redis-server there or fix the queue URL"
        ) from exc
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise BackendUnavailable(
                f"Redis at {server} needs a password: put it in the URL, redis://:PASSWORD@host:port/0"
            ) from exc
        raise JobsError(f"Redis at {server} answered with an error: {_first_line(exc)}") from exc
    except redis.exceptions.InvalidResponse as exc:
        raise BackendUnavailable(
            f"the server at {server} does not speak the Redis protocol ({_first_line(exc)}): check the host and port"
        ) from exc
    except redis.RedisError as exc:
        raise JobsError(f"Redis at {server}: {type(exc).__name__}: {_first_line(exc)}") from exc


def translate(server: str, exc: redis.RedisError) -> JobsError:
    """The jobfleet error :func:`translated` would raise for ``exc`` (its ``__cause__`` is ``exc``)."""
    try:
        with translated(server):
            raise exc
    except JobsError as error:
        return error
    raise AssertionError("unreachable")  # pragma: no cover


def is_permanent(exc: BaseException) -> bool:
    """True for errors that waiting will not cure: bad credentials, a missing ACL permission, a
    refused TLS handshake, a server that asks for a password. A process that retries while Redis
    is down (the supervisor) stops on these instead, with the translated message."""
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.NoPermissionError)):
        return True
    if isinstance(exc, redis.ResponseError):
        return "NOAUTH" in str(exc) or "WRONGPASS" in str(exc)
    return _tls_problem("", exc) is not None


def _no_credentials_given(exc: BaseException) -> bool:
    """redis-py says NOAUTH (RESP2) or "HELLO must be called ... authenticated" (RESP3) when no password was sent."""
    text = str(exc)
    return "NOAUTH" in text or "Authentication required" in text or "already authenticated" in text


_VERIFY_DETAIL = re.compile(r"certificate verify failed: (.*?)(?: \(_ssl\.c:\d+\))?[.)']*$")


def _tls_problem(server: str, exc: BaseException) -> str | None:
    """The message for a TLS handshake Redis or the client refused, or None for other errors."""
    text = _first_line(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        found = _VERIFY_DETAIL.search(text)
        detail = found.group(1) if found else "the server's certificate is not trusted"
        return (f"TLS certificate verification failed for Redis at {server} ({detail}): give the CA that signed "
                "the server's certificate in the URL, rediss://host:port/0?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem "
                "(and connect by a name or address the certificate lists)")
    if "CERTIFICATE_REQUIRED" in text:
        return (f"Redis at {server} requires a TLS client certificate (tls-auth-clients yes): add "
                "ssl_certfile=/path/client.pem&ssl_keyfile=/path/client.key to the rediss:// URL")
    if isinstance(exc.__context__, ssl.SSLEOFError):
        # TLS 1.3: a server that wants a client certificate may just close after the handshake
        return (f"Redis at {server} closed the TLS connection after the handshake: it probably requires a TLS "
                "client certificate (tls-auth-clients yes): add ssl_certfile=/path/client.pem&ssl_keyfile=/path/client.key "
                "to the rediss:// URL, or read the server's log")
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return f"Redis at {server} does not speak TLS on that port: use redis:// for it, or the server's tls-port"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
