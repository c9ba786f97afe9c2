"""The GCS transport (``adapters/feeds/gcs_client.py``): pull of one large inbound object into the partner's
local inbound folder (download at its generation, CRC32C checked, renamed, marked ready, moved to
``processed/`` in the bucket) and push of the same file to ``outbound/``, against a local GCS server
(gcp-storage-emulator on loopback, its own process: its CPU is not counted, it stands for Google).

What it shows: our side streams (peak RSS does not grow with the file) and its CPU time per MiB. Wall time
on loopback says little about a real bucket (network bound); compare CPU seconds per MiB.

Each case runs in a fresh spawned process (its peak RSS is its own). No database.
Usage: ``python benchmarks/gcs_transfer.py [--quick] [--mib N]``. A table goes to stderr; the last line of
stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    case_result,
    emit_json,
    fmt_mib,
    machine_info,
    measure_phase,
    print_table,
    run_in_subprocess,
    utc_now,
)

import requests
from google.cloud import storage

from adapters.feed_exchange import GcsBucket
from adapters.feeds.folders import FeedFolders
from adapters.feeds.gcs_client import UPLOAD_CHUNK, GcsTransfer

PARTNER = "acme_life"
BUCKET = "bench-exchange"
NAME = f"eligibility_{PARTNER}_20260115.csv"


@contextlib.contextmanager
def emulator(data_dir: Path) -> Iterator[str]:
    """gcp-storage-emulator on a free loopback port; yields its URL (for ``STORAGE_EMULATOR_HOST``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(data_dir), "start"]
    server = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port), "--quiet"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{url}/storage/v1/b", timeout=5)
                break
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def case_pull(work: str, endpoint: str) -> dict[str, Any]:
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    folders = FeedFolders(Path(work) / "root")
    transfer = GcsTransfer(PARTNER, GcsBucket(BUCKET))
    with measure_phase() as phase:
        pulled = asyncio.run(transfer.pull(PARTNER, folders, lambda name: name == NAME))
    size = (folders.inbound(PARTNER) / NAME).stat().st_size
    figures: dict[str, Any] = case_result(size, phase, pulled=len(pulled)).as_json()
    return figures


def case_push(work: str, endpoint: str) -> dict[str, Any]:
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    source = FeedFolders(Path(work) / "root").inbound(PARTNER) / NAME
    with measure_phase() as phase:
        asyncio.run(GcsTransfer(PARTNER, GcsBucket(BUCKET)).push([source]))
    figures: dict[str, Any] = case_result(source.stat().st_size, phase).as_json()
    return figures


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--mib", type=int, default=None, help="object size in MiB (default 512, quick 64)")
    args = parser.parse_args()
    mib = args.mib or (64 if args.quick else 512)
    with tempfile.TemporaryDirectory(prefix="gcs-transfer-") as work, emulator(Path(work) / "gcs") as endpoint:
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
        source = Path(work) / "object.bin"
        with source.open("wb") as handle:
            for _ in range(mib):
                handle.write(os.urandom(1 << 20))
        bucket = storage.Client().create_bucket(BUCKET)  # chunked: this process's peak RSS is inherited by the cases
        bucket.blob(f"{PARTNER}/inbound/{NAME}", chunk_size=UPLOAD_CHUNK).upload_from_filename(str(source))
        source.unlink()
        results = {"pull": run_in_subprocess(case_pull, work, endpoint)}
        results["push"] = run_in_subprocess(case_push, work, endpoint)
    table = []
    for name, result in results.items():
        cpu_per_mib = result["cpu_s"] / mib
        table.append(
            [name, f"{result['seconds']:.2f}", f"{cpu_per_mib * 1000:.1f}", fmt_mib(int(result["rss_peak_mib"] * 1024))]
        )
    print_table(["case", "seconds", "CPU ms/MiB", "peak RSS"], table, title=f"one object of {mib} MiB")
    emit_json(
        {"benchmark": "gcs_transfer", "at": utc_now(), "mib": mib, "machine": machine_info(), "cases": results},
        args.json_out,
    )


if __name__ == "__main__":
    main()
