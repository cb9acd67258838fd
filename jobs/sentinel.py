"""``redis+sentinel://``: a Redis primary found (and followed after a failover) through Sentinel.

URL::

    redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db][?options]

The hosts are the sentinels; ``service_name`` is the name they monitor (``sentinel monitor
NAME ...``); the credentials are those of the primary and its replicas (the sentinels are asked
without any). redis-py's :class:`redis.sentinel.Sentinel` asks the sentinels for the primary
at every (re)connect, and a primary demoted to replica makes it reconnect (its READONLY error
is a connection error there), so a client and a worker that retry on :data:`TRANSIENT_ERRORS
<jobs.backends.redis_errors.TRANSIENT_ERRORS>` follow a failover on their own.

Durability (``?wait_replicas=N[&wait_timeout=S]``, on this scheme and on ``redis://``): after an
enqueue, and after each batch a worker writes, wait until N replicas acknowledged the writes
(Redis ``WAIT``, at most S seconds, default 1). Redis replicates asynchronously: without it, a
primary SIGKILLed before a write reached a replica loses that write when the replica is
promoted. An enqueue that is not confirmed in time raises :class:`jobs.BackendUnavailable`
(the job is on the primary, and runs unless the primary fails now); a worker's batch that is
not confirmed is logged.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import redis
from redis.sentinel import Sentinel

from .errors import ConfigError

__all__ = ["SCHEME", "SentinelURL", "Durability", "parse_sentinel", "connect_sentinel", "durability_of", "split_durability"]

SCHEME = "redis+sentinel"
FORM = "redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]"
#: Query options that are ours, not redis-py's.
DURABILITY_OPTIONS = ("wait_replicas", "wait_timeout")
SENTINEL_OPTIONS = ("socket_timeout", "socket_connect_timeout")
MARKER_KEY = "jobfleet:durability"


def _positive(value: str) -> bool:
    try:
        return 0 < float(value) < 3600
    except ValueError:
        return False


@dataclass(frozen=True)
class Durability:
    """Wait for ``replicas`` replicas, at most ``timeout_s`` seconds, after a write that must survive a failover."""

    replicas: int
    timeout_s: float = 1.0

    def wait(self, client: redis.Redis) -> int:
        """Block until the writes sent so far (by any connection) reached ``replicas`` replicas, or the
        timeout; return how many did. A marker write on the WAIT's own connection carries the
        primary's replication offset to it (WAIT counts from its connection's last write)."""
        pipe = client.pipeline(transaction=False)
        pipe.set(MARKER_KEY, "1", px=60_000)
        pipe.execute_command("WAIT", self.replicas, max(1, int(self.timeout_s * 1000)))
        return int(pipe.execute()[-1])


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int
    username: str | None
    password: str | None
    options: tuple[tuple[str, str], ...]


def _bad(show: str, why: str) -> ConfigError:
    return ConfigError(f"bad Sentinel URL {show!r}: {why}; write {FORM}")


def parse_sentinel(url: str, show: str) -> SentinelURL:
    """Read a ``redis+sentinel://`` URL (``show`` is it redacted); :class:`ConfigError` when wrong."""
    rest = url.partition("://")[2]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    creds, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, has_password, secret = creds.partition(":")
        username, password = (unquote(user) or None, unquote(secret)) if has_password else (None, unquote(user))
    sentinels = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(show, f"{item or 'nothing'!r} is not host:port (each sentinel needs its port, e.g. 26379)")
        sentinels.append((host.strip("[]"), int(port)))
    parts = [p for p in path.split("/") if p] if slash else []
    if not parts:
        raise _bad(show, "it names no service (the name the sentinels monitor)")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise _bad(show, "after the service name comes only the database number")
    options = tuple(parse_qsl(query, keep_blank_values=True))
    for name, value in options:
        if name not in SENTINEL_OPTIONS:
            raise _bad(show, f"unknown option {name!r} (the options are {', '.join(SENTINEL_OPTIONS + DURABILITY_OPTIONS)})")
        if not _positive(value):
            raise _bad(show, f"{name} must be a positive number of seconds, not {value!r}")
    return SentinelURL(tuple(sentinels), unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0,
                       username, password, options)


def split_durability(url: str, show: str) -> tuple[str, Durability | None]:
    """``url`` without our durability options, and the :class:`Durability` they ask for."""
    base, qmark, query = url.partition("?")
    if not qmark:
        return url, None
    pairs = parse_qsl(query, keep_blank_values=True)
    ours = {k: v for k, v in pairs if k in DURABILITY_OPTIONS}
    if not ours:
        return url, None
    kept = [part for part in query.split("&") if part.partition("=")[0] not in DURABILITY_OPTIONS]
    clean = base + ("?" + "&".join(kept) if kept else "")
    replicas, timeout = ours.get("wait_replicas", ""), ours.get("wait_timeout", "1")
    if not replicas.isdigit() or int(replicas) < 1:
        raise ConfigError(f"bad Redis URL {show!r}: wait_replicas must be a whole number from 1 up (replicas to wait for)")
    if not _positive(timeout):
        raise ConfigError(f"bad Redis URL {show!r}: wait_timeout must be a positive number of seconds below 3600")
    return clean, Durability(int(replicas), float(timeout))


_durability: weakref.WeakKeyDictionary[Any, Durability] = weakref.WeakKeyDictionary()


def durability_of(client: Any) -> Durability | None:
    """The durability its URL asked for, for a client :func:`jobs.urls.connect` opened."""
    try:
        return _durability.get(client)
    except TypeError:
        return None


def remember_durability(client: Any, durability: Durability | None) -> None:
    if durability is not None:
        _durability[client] = durability


def connect_sentinel(target: SentinelURL, socket_timeout: float) -> redis.Redis:
    """A client of the primary of ``target.service_name``, re-discovered at every reconnect."""
    kwargs: dict[str, Any] = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
    for name, value in target.options:
        kwargs[name] = float(value)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs={"socket_timeout": socket_timeout,
                                                                 "socket_connect_timeout": socket_timeout}, **kwargs)
    return sentinel.master_for(target.service_name, db=target.db, username=target.username, password=target.password)


def describe(client: redis.Redis) -> str | None:
    """``sentinel NAME via host:port,...`` for a Sentinel-managed client, else None."""
    pool: Any = client.connection_pool
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        return None
    hosts = ",".join(f"{s.connection_pool.connection_kwargs.get('host')}:{s.connection_pool.connection_kwargs.get('port')}"
                     for s in manager.sentinels)
    return f"{pool.service_name} via sentinels {hosts}"
