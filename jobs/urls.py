"""Backend URLs: parse them, show them without secrets, open the Redis connection they name.

Valid schemes::

    local://            one worker process per CPU on this machine (the embedded default)
    local://N           N worker processes
    local://N?threads=T&max_async=M
                        each process runs T calls at once on threads and up to M ``async def``
                        calls at once on one event loop (jobs.backends.local_concurrent)
    redis://[[user]:password@]host[:port][/db][?socket_timeout=5&...]
    rediss://...        the same over TLS (ssl_ca_certs=, ssl_cert_reqs=, ssl_certfile=, ...)
    unix:///path/to/redis.sock[?db=0]
    fakeredis://[name]  an in-memory Redis inside this process, for tests
    redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]
                        the primary the sentinels name, followed after a failover (jobs.sentinel)

``?wait_replicas=N&wait_timeout=S`` on a Redis URL waits for N replicas after each write that
must survive a failover (:class:`jobs.sentinel.Durability`).

Query options are read by redis-py exactly as ``redis.Redis.from_url`` reads them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis

from . import sentinel
from .errors import ConfigError
from .event_loop import MAX_ASYNC, default_max_async
from .url_options import check_options

__all__ = ["LocalTarget", "RedisTarget", "parse", "redact", "connect", "SCHEMES", "DEFAULT_SOCKET_TIMEOUT"]

SCHEMES = ("local", "redis", "rediss", "unix", "fakeredis", sentinel.SCHEME)
_SCHEMES_TEXT = ("local://[N], redis://host:port/db, rediss://host:port/db, unix:///path.sock, fakeredis://, "
                 "redis+sentinel://host:port[,host:port]/service_name")
#: Seconds a Redis connect or reply may take before we call Redis unavailable (a URL may override it).
DEFAULT_SOCKET_TIMEOUT = 5.0
#: More local worker processes than this is certainly a typo.
MAX_LOCAL_PROCESSES = 1024
#: Most threads a local worker process may run calls on (as ``workers supervise --threads``).
MAX_LOCAL_THREADS = 64
_SECRET_QUERY_KEYS = {"password", "ssl_password"}


@dataclass(frozen=True)
class LocalTarget:
    """``local://N?threads=T&max_async=M``: N worker processes on this machine, each running up
    to T calls at once on threads and M ``async def`` calls at once on one event loop (T=1, M=0:
    one call at a time, the fastest for CPU-bound calls)."""

    processes: int
    threads: int = 1
    max_async: int = 0


@dataclass(frozen=True)
class RedisTarget:
    """A Redis server: real (``redis``, ``rediss``, ``unix``) or in-memory (``fakeredis``)."""

    url: str

    @property
    def fake(self) -> bool:
        return self.url.startswith("fakeredis:")

    def __repr__(self) -> str:
        return f"RedisTarget({redact(self.url)!r})"


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (user names stay: they help debugging)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "<URL hidden: it may hold a password>"
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    if "@" in netloc:
        creds, _, hostport = netloc.rpartition("@")
        user, has_password, _ = creds.partition(":")
        if has_password and "@" not in user:  # a user name with '@' in it is more likely a password
            netloc = f"{user}:***@{hostport}"
        else:
            # redis-py reads "redis://secret@host" as a password with no user name.
            netloc = f"***@{hostport}"
    path, qmark, query = tail.partition("?")
    if qmark:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret(k) for k, _ in pairs):
            query = urlencode([(k, "***" if _is_secret(k) else v) for k, v in pairs], safe="*/")
    return f"{scheme}{sep}{netloc}{path}{qmark}{query}"


def _is_secret(query_key: str) -> bool:
    """``password``, ``ssl_password``, and anything a typo makes of them (``?password``, ``PASSWORD``)."""
    return any(secret in query_key.lower() for secret in _SECRET_QUERY_KEYS)


def parse(url: str | None) -> LocalTarget | RedisTarget:
    """Read a backend URL; raise :class:`ConfigError` naming the valid schemes when it is wrong."""
    if url is None or url == "":
        url = "local://"
    if not isinstance(url, str):
        raise ConfigError(f"the queue URL must be a string such as 'local://4', not {type(url).__name__}; valid: {_SCHEMES_TEXT}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise ConfigError(f"unsupported queue URL {redact(url)!r}: valid schemes are {_SCHEMES_TEXT}")
    if scheme == "local":
        path, _, query = rest.partition("?")
        return LocalTarget(_local_processes(url, path), *_local_options(url, query))
    if scheme == "fakeredis":
        if "?" in rest:
            raise ConfigError(f"bad fakeredis URL {url!r}: it takes no options (it runs the jobs one at a time, in "
                              "this process, when they are waited upon); write fakeredis:// or fakeredis://NAME")
        return RedisTarget(url)
    clean, _ = sentinel.split_durability(url, redact(url))
    if scheme == sentinel.SCHEME:
        sentinel.parse_sentinel(clean, redact(url))
    else:
        _check_redis_url(clean)
    return RedisTarget(url)


def _local_processes(url: str, rest: str) -> int:
    text = rest.strip("/")
    if text == "":
        return os.cpu_count() or 1
    if not (text.isascii() and text.isdigit()) or not (1 <= int(text) <= MAX_LOCAL_PROCESSES):  # not '²'
        raise ConfigError(
            f"bad local URL {url!r}: write local:// (one process per CPU) or local://N "
            f"with N a whole number from 1 to {MAX_LOCAL_PROCESSES}"
        )
    return int(text)


def _local_options(url: str, query: str) -> tuple[int, int]:
    """``threads`` and ``max_async`` of a local URL's query (1, and :func:`jobs.event_loop.default_max_async`, when absent)."""
    bounds = {"threads": (1, MAX_LOCAL_THREADS), "max_async": (0, MAX_ASYNC)}
    values: dict[str, int | None] = {"threads": 1, "max_async": None}
    for key, text in parse_qsl(query, keep_blank_values=True):
        if key not in bounds:
            raise ConfigError(f"bad local URL {url!r}: unknown option {key!r}; write local://N?threads=T "
                              f"(T from 1 to {MAX_LOCAL_THREADS}) and/or max_async=M (M from 0 to {MAX_ASYNC})")
        low, high = bounds[key]
        if not (text.isascii() and text.isdigit()) or not (low <= int(text) <= high):
            raise ConfigError(f"bad local URL {url!r}: write {key}=K with K a whole number from {low} to {high}")
        values[key] = int(text)
    threads, max_async = values["threads"] or 1, values["max_async"]
    return threads, default_max_async(threads) if max_async is None else max_async


def _check_redis_url(url: str) -> None:
    try:
        options = redis.connection.parse_url(url)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad Redis URL {redact(url)!r}: {_scrub(str(exc), url)}") from None
    if "port" in options and not (0 < int(options["port"]) < 65536):
        raise ConfigError(f"bad Redis URL {redact(url)!r}: port must be 1-65535")
    if url.startswith(("redis://", "rediss://")) and not options.get("host"):
        raise ConfigError(f"bad Redis URL {redact(url)!r}: it names no host; write redis://localhost:6379/0")
    check_options(url, redact(url))


def _scrub(text: str, url: str) -> str:
    """Remove any secret of ``url`` from a lower layer's message."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password] if parts.password else []
        if parts.username and not parts.password:
            secrets.append(parts.username)
        secrets += [v for k, v in parse_qsl(parts.query) if _is_secret(k)]
    except ValueError:
        return "the URL could not be read"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


_fake_servers: dict[str, Any] = {}
_fake_lock = threading.Lock()


def connect(url: str) -> redis.Redis:
    """Open (lazily) the Redis client a URL names, with timeouts so nothing waits for ever.

    ``fakeredis://NAME`` gives every caller in this process the same in-memory server for the
    same NAME, so two ``Queue("fakeredis://")`` objects see the same jobs.
    """
    target = parse(url)
    if not isinstance(target, RedisTarget):
        raise ConfigError(f"{redact(url)!r} is not a Redis URL")
    if target.fake:
        import fakeredis

        name = url.partition("://")[2]
        with _fake_lock:
            server = _fake_servers.get(name)
            if server is None:
                server = _fake_servers[name] = fakeredis.FakeServer()
        return fakeredis.FakeRedis(server=server)
    clean, durability = sentinel.split_durability(url, redact(url))
    try:
        if clean.lower().startswith(sentinel.SCHEME + ":"):
            client = sentinel.connect_sentinel(sentinel.parse_sentinel(clean, redact(url)), DEFAULT_SOCKET_TIMEOUT)
        else:
            client = redis.Redis.from_url(
                clean,
                socket_timeout=DEFAULT_SOCKET_TIMEOUT,
                socket_connect_timeout=DEFAULT_SOCKET_TIMEOUT,
                health_check_interval=30,
            )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad Redis URL {redact(url)!r}: {_scrub(str(exc), url)}") from None
    sentinel.remember_durability(client, durability)
    return client


def describe_server(client: redis.Redis) -> str:
    """``host:port`` (or the socket path) of a client, for error messages; never credentials."""
    managed = sentinel.describe(client)
    if managed:
        return managed
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
