"""The batch-feed transport around the loader: SFTP upload over loopback, OpenPGP decrypt + verify,
OpenPGP encrypt + sign, for an eligibility-sized file (the loader itself is ``benchmarks/feeds.py``).

Cases, each in a fresh spawned process (its peak RSS is its own):

1. **upload**: a partner (asyncssh client) writes the file into ``/inbound/<partner>/`` on our SFTP server
   (asyncssh, same machine, loopback) until the ready marker exists (the close of the write handle);
2. **decrypt**: the file, encrypted to our key and signed by the partner (Cv25519, Sequoia), decrypted
   and verified into the work folder (``adapters.feeds.openpgp.decrypt_inbound``: streaming);
3. **encrypt**: the same plaintext encrypted to the partner and signed by us (an outbound feed).

Rows: 1,000,000 (quick 100,000) of the seed's eligibility CSV (~105 bytes a row). The file is built once
(setup, not measured). No database: the backends options are accepted and ignored.

Usage: ``python benchmarks/feeds_transport.py [--quick] [--rows N]``. A table goes to stderr; the last
line of stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
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

import asyncssh
import pysequoia

from adapters.feeds.folders import FeedFolders
from adapters.feeds.openpgp import certificate_of, decrypt_inbound, encrypt_outbound, generate_secret_key
from adapters.feeds.partner_files import FeedKeyFiles
from adapters.feeds.sftp_server import SftpServerConfig, start_sftp_server
from adapters.files.master_key import KeyWrapper

PARTNER = "acme_life"
HEADER = "partner_member_id,email,first_name,last_name,date_of_birth,gender,state,policy_type,policy_start_date\n"


def build_file(path: Path, rows: int) -> int:
    with path.open("w") as handle:
        handle.write(HEADER)
        for i in range(rows):
            handle.write(f"{10_000_000 + i},member{i}@example.com,First{i},Last{i},1980-05-15,F,IA,Life,2022-01-01\n")
    return path.stat().st_size


def case_upload(work: str, source: str) -> dict[str, Any]:
    base = Path(work) / "upload"
    folders = FeedFolders(base / "root")
    keys = FeedKeyFiles(base / "data", KeyWrapper(os.urandom(32)))
    partner_key = asyncssh.generate_private_key("ssh-ed25519")
    keys.add_ssh_key(PARTNER, partner_key.export_public_key().decode())
    config = SftpServerConfig("127.0.0.1", 0, asyncssh.generate_private_key("ssh-ed25519"), 1 << 40)

    async def run() -> dict[str, Any]:
        acceptor = await start_sftp_server(config, folders, keys, lambda _p, _n: None)
        try:
            async with (
                asyncssh.connect(
                    "127.0.0.1",
                    acceptor.get_port(),
                    username=PARTNER,
                    client_keys=[partner_key],
                    known_hosts=None,
                    agent_path=None,
                ) as conn,
                conn.start_sftp_client() as sftp,
            ):
                with measure_phase() as phase:
                    await sftp.put(source, f"/inbound/{PARTNER}/eligibility_{PARTNER}_20260115.csv")
                    assert folders.ready(PARTNER)
        finally:
            acceptor.close()
            await acceptor.wait_closed()
        figures: dict[str, Any] = case_result(Path(source).stat().st_size, phase).as_json()
        return figures

    return asyncio.run(run())


def case_decrypt(work: str, sealed: str, ours: bytes, partner_cert: bytes) -> dict[str, Any]:
    target = Path(work) / "work" / "plain.csv"
    with measure_phase() as phase:
        signers = decrypt_inbound(Path(sealed), target, ours, partner_cert, require_signature=True)
    size = target.stat().st_size
    target.unlink()
    figures: dict[str, Any] = case_result(size, phase, signers=len(signers)).as_json()
    return figures


def case_encrypt(work: str, source: str, partner_cert: bytes, ours: bytes) -> dict[str, Any]:
    target = Path(work) / "out.csv.pgp"
    with measure_phase() as phase:
        encrypt_outbound(Path(source), target, partner_cert, ours)
    figures: dict[str, Any] = case_result(Path(source).stat().st_size, phase).as_json()
    return figures


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="feeds-transport-") as work:
        source = Path(work) / "eligibility.csv"
        size = build_file(source, rows)
        ours, partner = generate_secret_key("ledger"), generate_secret_key("partner")
        sealed = Path(work) / "eligibility.csv.pgp"
        pysequoia.encrypt_file(
            source,
            sealed,
            recipients=[pysequoia.Cert.from_bytes(certificate_of(ours))],
            signer=pysequoia.Tsk.from_bytes(partner).signer(),
            armor=False,
        )
        results = {
            "upload": run_in_subprocess(case_upload, work, str(source)),
            "decrypt": run_in_subprocess(case_decrypt, work, str(sealed), ours, certificate_of(partner)),
            "encrypt": run_in_subprocess(case_encrypt, work, str(source), certificate_of(partner), ours),
        }
    table = []
    for name, result in results.items():
        mib_s = result["events"] / result["seconds"] / 1048576 if result["seconds"] else 0.0
        table.append([name, f"{result['seconds']:.2f}", f"{mib_s:.0f}", fmt_mib(int(result["rss_peak_mib"] * 1024))])
    print_table(["case", "seconds", "MiB/s", "peak RSS"], table, title=f"{rows} rows, {size / 1048576:.0f} MiB")
    emit_json(
        {
            "benchmark": "feeds_transport",
            "at": utc_now(),
            "rows": rows,
            "bytes": size,
            "machine": machine_info(),
            "cases": results,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
