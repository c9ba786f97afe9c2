"""Hosts on one machine for topology tests: Linux network namespaces joined to a bridge (issue 18, item 12).

:func:`network` creates one namespace per host, each with an ``eth0`` (one end of a veth pair; the other
end is attached to a bridge in the root namespace, whose address is the hosts' gateway) and its own
loopback. Services that listen on the root namespace's 127.0.0.1 only (PostgreSQL, Redis) are reached
from the hosts through :class:`TcpForwarder` on the gateway address, so the shared servers are never
reconfigured. A host's processes run with ``ip netns exec`` (:meth:`Host.spawn`); :meth:`Host.kill_all`
SIGKILLs every process in the namespace (the host dies), :meth:`Host.cut` / :meth:`Host.restore` take its
link down and up (``ip link set``). Names are unique per run (xdist-safe); everything is removed on exit,
on failure too. :func:`netns_unavailable` says why the machine cannot do this (not root, no ``ip``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, *args], capture_output=True, text=True, check=check, timeout=30)


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can): not root, no ``ip``, or the kernel refuses."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if not Path(IP).exists():
        return "the ip command (iproute2) is not installed"
    probe = f"ledger-probe-{secrets.token_hex(4)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    """One namespace: its name, its address on the bridge, the root-side end of its link."""

    name: str
    namespace: str
    address: str
    link: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside this host (stdout and stderr appended to the file ``log``)."""
        with log.open("ab") as output:
            process = subprocess.Popen(
                [IP, "netns", "exec", self.namespace, *argv], env=dict(env), stdout=output, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        """Every process in this host's namespace (``ip netns pids``)."""
        listed = _ip("netns", "pids", self.namespace, check=False).stdout
        return [int(pid) for pid in listed.split()]

    def kill_all(self) -> list[int]:
        """SIGKILL every process of the host, as a power cut would; returns the pids killed."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        return killed

    def cut(self) -> None:
        """Take the host's link down (its root-side veth): packets to and from it are lost until restored."""
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        """Bring the link back up, forgetting the neighbours that failed to answer while it was down (else
        the host's kernel answers "no route to host" until those entries expire)."""
        _ip("link", "set", self.link, "up")
        _ip("-n", self.namespace, "neigh", "flush", "all", check=False)


@dataclass
class Network:
    """A bridge in the root namespace (``gateway`` is its address) and the hosts attached to it."""

    bridge: str
    gateway: str
    hosts: dict[str, Host] = field(default_factory=dict)


@contextmanager
def network(names: Sequence[str]) -> Iterator[Network]:
    """Hosts ``names`` on a fresh /24 behind a fresh bridge; all of it (and their processes) removed on exit."""
    run = secrets.token_hex(3)
    subnet = _free_subnet()
    addresses = list(subnet.hosts())
    net = Network(bridge=f"lb{run}", gateway=str(addresses[0]))
    try:
        _ip("link", "add", net.bridge, "type", "bridge")
        _ip("addr", "add", f"{net.gateway}/{subnet.prefixlen}", "dev", net.bridge)
        _ip("link", "set", net.bridge, "up")
        for index, name in enumerate(names, start=1):
            host = Host(name, f"ledger-{run}-{name}", str(addresses[index]), f"lv{run}{index}")
            _ip("netns", "add", host.namespace)
            net.hosts[name] = host
            inner = f"li{run}{index}"
            _ip("link", "add", host.link, "type", "veth", "peer", "name", inner)
            _ip("link", "set", host.link, "master", net.bridge)
            _ip("link", "set", host.link, "up")
            _ip("link", "set", inner, "netns", host.namespace)
            inside = ("netns", "exec", host.namespace, IP)
            _ip(*inside, "link", "set", inner, "name", "eth0")
            _ip(*inside, "addr", "add", f"{host.address}/{subnet.prefixlen}", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
        yield net
    finally:
        for host in net.hosts.values():
            host.kill_all()
            _ip("netns", "del", host.namespace, check=False)  # its veth pair goes with it
        _ip("link", "del", net.bridge, check=False)


def _free_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 no interface of this machine uses."""
    used = [
        ipaddress.ip_interface(word).network
        for line in _ip("-o", "-4", "addr", "show").stdout.splitlines()
        for word in line.split()
        if "/" in word and word[0].isdigit()
    ]
    while True:
        candidate = ipaddress.IPv4Network(f"10.{secrets.randbelow(54) + 200}.{secrets.randbelow(256)}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return candidate


class TcpForwarder:
    """Forwards TCP connections from ``listen`` (the bridge address) to ``target`` (a root-namespace
    loopback service), both directions, one thread per direction, until :meth:`close`. A connection closed
    on one side is closed on the other (a SIGKILLed host's PostgreSQL sessions end, releasing their
    advisory locks)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(listen)
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"forward-{self.port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed by close()
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()  # the service is down: the host sees its connection refused
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):  # either side gone: end both (below)
            while chunk := source.recv(65_536):
                sink.sendall(chunk)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv
        with self._lock:
            for end in (source, sink):
                self._open.discard(end)
                end.close()

    def close(self) -> None:
        """Stop listening and end every forwarded connection."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            for end in list(self._open):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@contextmanager
def forwarder(listen: tuple[str, int], target: tuple[str, int]) -> Iterator[TcpForwarder]:
    proxy = TcpForwarder(listen, target)
    try:
        yield proxy
    finally:
        proxy.close()


def wait_listening(address: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once a TCP connection to ``address:port`` succeeds; fail if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {address}:{port} after {timeout} s")
