"""The parts of a Redis URL redis-py would only choke on later: checked at ``Queue(url)``.

redis-py hands every ``?name=value`` of a URL to its connection class as a keyword argument when
the first command runs: an unknown name is a ``TypeError`` then, a TLS option on a plain
``redis://`` URL too, and a missing certificate file reads as "connection refused". Here each
of those is a :class:`jobs.ConfigError` naming the option, before anything connects.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl
from collections.abc import Callable
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from .errors import ConfigError

__all__ = ["check_options", "OPTIONS", "TLS_OPTIONS"]


def _seconds(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "a number of seconds"
    return None if math.isfinite(number) and number > 0 else "a positive, finite number of seconds"


def _whole(low: int, high: int | None = None) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        ok = value.strip().isdigit() and int(value) >= low and (high is None or int(value) <= high)
        return None if ok else f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
    return check


def _choice(*names: str) -> Callable[[str], str | None]:
    return lambda value: None if value in names else "one of " + ", ".join(names)


def _file(value: str) -> str | None:
    return None if os.path.isfile(value) else "the path of a readable file (this one does not exist here)"


def _directory(value: str) -> str | None:
    return None if os.path.isdir(value) else "the path of a directory (this one does not exist here)"


def _anything(value: str) -> str | None:
    return None


_BOOL = _choice("true", "false", "True", "False", "TRUE", "FALSE", "yes", "no", "1", "0", "y", "n")

#: Options of every Redis URL, with what a value must be.
OPTIONS: dict[str, Callable[[str], str | None]] = {
    "db": _whole(0),
    "socket_timeout": _seconds,
    "socket_connect_timeout": _seconds,
    "socket_keepalive": _BOOL,
    "retry_on_timeout": _BOOL,
    "health_check_interval": _whole(0),
    "max_connections": _whole(1),
    "client_name": _anything,
    "protocol": _choice("2", "3"),
    "username": _anything,
    "password": _anything,
}
#: Options of ``rediss://`` only (redis-py's names).
TLS_OPTIONS: dict[str, Callable[[str], str | None]] = {
    "ssl_cert_reqs": _choice("none", "optional", "required"),
    "ssl_ca_certs": _file,
    "ssl_ca_path": _directory,
    "ssl_certfile": _file,
    "ssl_keyfile": _file,
    "ssl_password": _anything,
    "ssl_check_hostname": _BOOL,
    "ssl_ciphers": _anything,
    "ssl_min_version": _choice(*(str(int(v)) for v in ssl.TLSVersion if v > 0)),
}
_TCP_ONLY = {"socket_connect_timeout", "socket_keepalive"}
_HOST_NAME = re.compile(r"^[A-Za-z0-9._\-]+$")


#: ``local://`` query options a Redis URL may be given by mistake, and the worker option that does it.
WORKER_OPTIONS = {"threads": "--threads N", "max_async": "--max-async M"}


def check_options(url: str, show: str) -> None:
    """Raise :class:`ConfigError` for a query option, path or host redis-py would fail on later.

    ``show`` is the URL as messages may print it (its password redacted).
    """
    scheme = url.partition("://")[0].lower()
    parts = urlsplit(url)
    _check_place(parts, scheme, show)
    allowed = dict(OPTIONS)
    if scheme == "unix":
        allowed = {k: v for k, v in allowed.items() if k not in _TCP_ONLY}
    if scheme == "rediss":
        allowed.update(TLS_OPTIONS)
    given: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in WORKER_OPTIONS:
            raise ConfigError(f"bad Redis URL {show!r}: {name} is set where the jobs run, not in the queue URL: "
                              f"workers supervise {WORKER_OPTIONS[name]}")
        if name in TLS_OPTIONS and scheme != "rediss":
            raise ConfigError(f"bad Redis URL {show!r}: {name} is a TLS option: use rediss:// for a TLS connection")
        if name not in allowed:
            valid = ", ".join(sorted(allowed))
            raise ConfigError(f"bad Redis URL {show!r}: unknown option {name!r}; the options are {valid}")
        problem = allowed[name](value) if value else None  # redis-py skips a blank value
        if problem:
            shown = "***" if "password" in name else repr(value)
            raise ConfigError(f"bad Redis URL {show!r}: {name} must be {problem}, not {shown}")
        given.setdefault(name, value)
    if given.get("ssl_keyfile") and not given.get("ssl_certfile"):
        raise ConfigError(f"bad Redis URL {show!r}: ssl_keyfile needs ssl_certfile (the client certificate) too")


def _check_place(parts: SplitResult, scheme: str, show: str) -> None:
    if scheme == "unix":
        if not parts.path:
            raise ConfigError(f"bad Redis URL {show!r}: it names no socket; write unix:///path/to/redis.sock")
        return
    path = unquote(parts.path)
    if path not in ("", "/") and not re.fullmatch(r"/\d+", path):
        raise ConfigError(f"bad Redis URL {show!r}: the path is the database number, as in redis://host:6379/0")
    if parts.port == 0:
        raise ConfigError(f"bad Redis URL {show!r}: port must be 1-65535")
    host = parts.hostname or ""
    if host and not (_HOST_NAME.match(host) or _is_ipv6(host)):
        raise ConfigError(f"bad Redis URL {show!r}: {host!r} is not a host name or IP address")


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False
