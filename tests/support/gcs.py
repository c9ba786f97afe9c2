"""A real local Google Cloud Storage server for the tests: ``gcp-storage-emulator`` (PyPI) in a process of its
own on a loopback port, storing on disk; ``STORAGE_EMULATOR_HOST`` points google-cloud-storage at it.

:func:`gcs_emulator` starts it and stops it (SIGTERM, then SIGKILL after a bound); :meth:`GcsEmulator.stop`
and :meth:`GcsEmulator.start` let a test take the server down and bring it back (same port, same data).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

START_BOUND_SECONDS = 60.0
"""How long the emulator may take to answer after it was started (a loaded machine)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class GcsEmulator:
    """One emulator process over ``data_dir``, listening on ``127.0.0.1:port``."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The value for ``STORAGE_EMULATOR_HOST``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(self.data_dir)]
        command += ["start", "--host", "127.0.0.1", "--port", str(self.port), "--quiet"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_BOUND_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gcp-storage-emulator exited with {self.process.returncode}")
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{self.endpoint}/storage/v1/b", timeout=5).raise_for_status()
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gcp-storage-emulator did not answer within {START_BOUND_SECONDS} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def gcs_emulator(data_dir: Path) -> Iterator[GcsEmulator]:
    """A running emulator over ``data_dir`` (created), stopped on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    emulator = GcsEmulator(data_dir)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
