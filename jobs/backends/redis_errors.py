"""Translate redis-py's errors into jobfleet's, at the backend edge.

Every message names the server as ``host:port`` and never holds a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from ..errors import BackendUnavailable, JobsError


@contextmanager
def translated(server: str) -> Iterator[None]:
    """Run a block of Redis calls; raise :class:`BackendUnavailable` / :class:`JobsError` instead."""
    try:
        yield
    except redis.AuthenticationError as exc:
        raise BackendUnavailable(
            f"Redis at {server} refused the credentials (authentication failed): check the user and password in the queue URL"
        ) from exc
    except redis.exceptions.NoPermissionError as exc:
        raise BackendUnavailable(
            f"the Redis user at {server} lacks a permission the queue needs ({_first_line(exc)}): grant it in the ACL"
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
