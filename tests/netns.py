"""Separate hosts for multi-host tests, without Docker: one network namespace per host.

::

    root namespace                      jobfleet-<pid>-a          jobfleet-<pid>-b ...
    bridge jfb<pid> 10.213.X.1/24 ──── veth ── eth0 10.213.X.2    eth0 10.213.X.3
    (Redis binds here, as the "redis"
     service of docker-compose.yml)

Each host has its own loopback, interfaces and routes, so it reaches Redis only over its link,
as a compose container or another machine would.  :meth:`NetnsHost.kill` is a host dying: the
link goes down first (no FIN or RST reaches Redis, as when a machine loses power), then every
process in the namespace gets SIGKILL by PID.

Names carry the test process's PID (``jobfleet-<pid>-<host>``, ``jfb<pid>``, ``jf<pid>h<i>``) so
parallel runs don't clash; the bridge has its own /24 picked among those no route uses yet.
Making namespaces needs root; :func:`make_network` falls back to :class:`LocalNetwork` (plain
processes on loopback) and says why, except under ``CI``, where it raises.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Protocol

NAME_PREFIX = "jobfleet-"
SUBNET_PREFIX = "10.213."
FORCE_LOCAL_ENV = "JOBFLEET_TEST_HOSTS"
#: Seconds a teardown step may take before it gives up with an error.
STEP_TIMEOUT_S = 10.0


class NamespacesUnavailable(RuntimeError):
    """This machine or user cannot create network namespaces."""


class Host(Protocol):
    """A machine of the test cluster: run processes on it, list them, kill it."""

    name: str

    def popen(self, args: Sequence[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen: ...

    def pids(self) -> list[int]: ...

    def kill(self) -> None: ...


class IpCommandFailed(subprocess.CalledProcessError):
    """An ``ip`` command failed; its message holds what ``ip`` said."""

    def __str__(self) -> str:
        return f"{' '.join(self.cmd)} exited with {self.returncode}: {(self.stderr or '').strip()}"


def _ip(*args: str, check: bool = True) -> str:
    """Run ``ip ARGS``; raise :class:`IpCommandFailed` when it fails (unless ``check=False``)."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    if check and proc.returncode != 0:
        raise IpCommandFailed(proc.returncode, ["ip", *args], proc.stdout, proc.stderr)
    return proc.stdout


def _kill_until_gone(list_pids, what: str) -> None:
    """SIGKILL every PID ``list_pids()`` returns, again and again, until it returns none."""
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while pids := list_pids():
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} of {what} survived SIGKILL for {STEP_TIMEOUT_S} s")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _netns_pids(netns: str) -> list[int]:
    """Every live process in the namespace ``netns`` (none if it does not exist)."""
    return [int(pid) for pid in _ip("netns", "pids", netns, check=False).split()]


class _Processes:
    """The Popen objects a host started, reaped after the host is killed."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def reap(self) -> None:
        for proc in self.started:
            # A process started a moment ago may still be `ip netns exec` in the root namespace,
            # where `ip netns pids` does not see it: it dies with its host all the same.
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=STEP_TIMEOUT_S)


class NetnsHost:
    """A host in its own network namespace, linked to the network's bridge."""

    def __init__(self, name: str, netns: str, address: str, link: str) -> None:
        self.name, self.netns, self.address, self.link = name, netns, address, link
        self._processes = _Processes()

    def popen(self, args: Sequence[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
        """Start ``args`` inside the namespace (``ip netns exec`` execs it: same PID)."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *args], env=env, **kwargs)
        self._processes.started.append(proc)
        return proc

    def pids(self) -> list[int]:
        """Every live process whose network namespace is this host's."""
        return _netns_pids(self.netns)

    def disconnect(self) -> None:
        """Pull the cable: packets to and from this host are dropped from now on."""
        _ip("link", "set", "dev", self.link, "down")

    def kill(self) -> None:
        """The host dies: link down, then SIGKILL every process in it until none is left."""
        self.disconnect()
        _kill_until_gone(self.pids, f"host {self.name}")
        self._processes.reap()

    def __repr__(self) -> str:
        return f"NetnsHost({self.name!r}, netns={self.netns!r}, address={self.address!r})"


class NetnsNetwork:
    """A bridge in the root namespace with a private /24; :meth:`add_host` makes hosts on it.

    Use as a context manager or call :meth:`close`: it kills every host's processes and deletes
    the namespaces, veths and bridge even when a test failed half-way.
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or str(os.getpid())
        self.bridge = f"jfb{self.tag}"
        self.subnet = _free_subnet()
        self.gateway = f"{self.subnet}.1"
        self.hosts: list[NetnsHost] = []
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    def add_host(self, name: str) -> NetnsHost:
        index = len(self.hosts) + 1
        netns, link, peer = f"{NAME_PREFIX}{self.tag}-{name}", f"jf{self.tag}h{index}", f"jf{self.tag}p{index}"
        host = NetnsHost(name, netns, f"{self.subnet}.{index + 1}", link)
        _ip("netns", "add", netns)
        self.hosts.append(host)  # from here on close() removes it
        _ip("link", "add", link, "type", "veth", "peer", "name", peer, "netns", netns)
        _ip("link", "set", link, "master", self.bridge, "up")
        inside = ("netns", "exec", netns, "ip")
        _ip(*inside, "link", "set", peer, "name", "eth0")
        _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        _ip(*inside, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        """Kill every host and remove what this network made; safe to call twice."""
        errors = []
        for host in self.hosts:
            try:
                host.kill()
            except Exception as exc:  # noqa: BLE001 - go on removing the rest, report at the end
                errors.append(exc)
            _ip("netns", "del", host.netns, check=False)
            # A killed host's sockets may still hold its namespace (a FIN that can't leave a
            # downed link is retried for minutes), and with it the veth: delete the pair now.
            _ip("link", "del", host.link, check=False)
        self.hosts.clear()
        _ip("link", "del", self.bridge, check=False)
        if errors:
            raise errors[0]

    def __enter__(self) -> NetnsNetwork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _free_subnet() -> str:
    """A ``10.213.X`` that no address or route on this machine uses, starting from our PID."""
    used = _ip("-4", "addr") + _ip("-4", "route") + _ip("-4", "route", "show", "table", "all")
    start = os.getpid() % 254
    for offset in range(254):
        candidate = f"{SUBNET_PREFIX}{(start + offset) % 254 + 1}"
        if f"{candidate}." not in used:
            return candidate
    raise NamespacesUnavailable(f"every {SUBNET_PREFIX}X.0/24 is in use")


class LocalHost:
    """The fallback host: plain processes on this machine; it owns them and their descendants."""

    address = "127.0.0.1"

    def __init__(self, name: str) -> None:
        self.name = name
        self._processes = _Processes()

    def popen(self, args: Sequence[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(list(args), env=env, **kwargs)
        self._processes.started.append(proc)
        return proc

    def pids(self) -> list[int]:
        """Live processes this host started and all their descendants (zombies excluded)."""
        children: dict[int, list[int]] = {}
        for pid, ppid in _process_table().items():
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [p.pid for p in self._processes.started if p.poll() is None]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def kill(self) -> None:
        """SIGSTOP the whole tree first, so nothing forks or escapes to init, then SIGKILL it."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        _kill_until_gone(self.pids, f"host {self.name}")
        self._processes.reap()


def _process_table() -> dict[int, int]:
    """PID -> parent PID of every live (not zombie) process, read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                # The command name is in parentheses and may hold spaces: split after it.
                state, ppid = fh.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            table[int(entry)] = int(ppid)
    return table


class LocalNetwork:
    """The fallback network: every host is this machine, Redis is on loopback."""

    gateway = "127.0.0.1"

    def __init__(self) -> None:
        self.hosts: list[LocalHost] = []

    def add_host(self, name: str) -> LocalHost:
        host = LocalHost(name)
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for host in self.hosts:
            host.kill()
        self.hosts.clear()

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def make_network() -> tuple[NetnsNetwork | LocalNetwork, str | None]:
    """A namespace network if this machine allows one, else a local one and the reason why.

    ``JOBFLEET_TEST_HOSTS=local`` asks for the fallback (to test it as root).  Under ``CI``
    there is no fallback: :class:`NamespacesUnavailable` is raised instead.
    """
    try:
        if os.environ.get(FORCE_LOCAL_ENV) == "local":
            raise NamespacesUnavailable(f"{FORCE_LOCAL_ENV}=local asks for local processes")
        if os.geteuid() != 0:
            raise NamespacesUnavailable("network namespaces need root")
        sweep_stale()
        return NetnsNetwork(), None
    except (NamespacesUnavailable, OSError, subprocess.SubprocessError) as exc:
        reason = str(exc) if isinstance(exc, NamespacesUnavailable) else f"cannot create a network namespace: {exc}"
        if os.environ.get("CI"):
            raise NamespacesUnavailable(f"CI is set, so the multi-host test must use namespaces: {reason}") from exc
        return LocalNetwork(), reason


def sweep_stale() -> None:
    """Remove the namespaces, bridges and veths of earlier runs whose test process is gone.

    A run killed by SIGKILL cannot clean up after itself; its names carry its PID.
    """
    for line in _ip("netns", "list").splitlines():
        netns = line.split()[0] if line.strip() else ""
        match = re.fullmatch(rf"{NAME_PREFIX}(\d+)-.+", netns)
        if match and not _alive(int(match.group(1))):
            _kill_until_gone(lambda netns=netns: _netns_pids(netns), netns)
            _ip("netns", "del", netns, check=False)
    for name in re.findall(r"^\d+: (jf[^:@]+)", _ip("-o", "link"), flags=re.MULTILINE):
        match = re.fullmatch(r"jf(?:b(\d+)|(\d+)h\d+)", name)
        if match and not _alive(int(match.group(1) or match.group(2))):
            _ip("link", "del", name, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
