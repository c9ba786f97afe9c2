"""What the feeds worker adds around a claims import (docs/batch.md, "Over SFTP"): the same claims file
processed directly (``adapters.batch.processing.process_claims_file``, what ``ledger batch run`` calls) and
through the feeds worker from an inbound folder, encrypted to us and signed by the partner, with its results
encrypted to the partner and signed by us (take, decrypt + verify, import, seal, results, encrypt, receipt).

Each case in a fresh spawned process on a fresh database (SQLite file, or a fresh PostgreSQL schema). The
figure to compare is CPU time per claim of the two cases of one run (the machine is shared: wall time is an
upper bound). Claims: 20,000 (quick 2,000) at level ``enhanced``, no documents.

Usage: ``python benchmarks/claims_sftp.py [--quick] [--claims N] [--backends sqlite,postgresql]``. A table goes
to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    case_result,
    emit_json,
    fmt_mib,
    fresh_postgres_schema,
    fresh_sqlite_file,
    machine_info,
    measure_phase,
    parse_backends,
    print_table,
    run_in_subprocess,
    utc_now,
)

import orjson
import pysequoia

from adapters import feed_exchange
from adapters.batch.processing import process_claims_file, sealing_checkpoint
from adapters.feeds.folders import FeedFolders
from adapters.feeds.openpgp import SequoiaFeedCrypto, certificate_of, generate_secret_key
from adapters.feeds.partner_files import FeedKeyFiles
from adapters.feeds.runs import FeedRunJournal
from adapters.files.master_key import KeyWrapper
from adapters.opening import open_audit_log, open_ledger
from adapters.storage import StorageConfig
from adapters.workers.claims_files import ClaimsInbound
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feeds import FeedWorker
from api.claims_processing import LedgerClaimsProcessing
from api.feeds_processing import LedgerFeedProcessing
from ledger_core.members.feeds.formats import FeedKind

PARTNER = "acme"
NAME = f"claims_{PARTNER}_20260115.jsonl"


def build_file(path: Path, claims: int) -> int:
    with path.open("wb") as handle:
        for i in range(claims):
            line = {
                "partnerClaimId": f"B-{i:08d}",
                "claimType": "auto",
                "claimAmount": f"{100 + i % 5000}.25",
                "currency": "USD",
                "submittedAt": "2025-06-01T10:00:00Z",
                "documents": [],
                "verificationLevel": "enhanced",
            }
            handle.write(orjson.dumps(line) + b"\n")
    return path.stat().st_size


def _open(data_dir: str, url: str) -> StorageConfig:
    config = StorageConfig(Path(data_dir), url)
    with open_ledger(config) as ledger:
        ledger.partners.register(
            partner_id=PARTNER, name="Acme", category="insurance_carrier", tier="standard", scopes=[]
        )
    return config


def case_direct(data_dir: str, url: str, source: str, claims: int) -> dict[str, Any]:
    config = _open(data_dir, url)
    out = Path(data_dir) / "out"
    out.mkdir()
    with open_ledger(config) as ledger, open_audit_log(config) as audit, measure_phase() as phase:
        outcome = process_claims_file(ledger, audit, Path(source), out, checkpoint_covering=sealing_checkpoint(config))
    assert sum(outcome.report.counts.values()) == claims
    figures: dict[str, Any] = case_result(claims, phase).as_json()
    return figures


def _no_remote(
    remote: feed_exchange.RemoteServer, credentials: feed_exchange.RemoteCredentials, retry: feed_exchange.RetryPolicy
) -> feed_exchange.RemoteTransfer:
    raise AssertionError("no partner-hosted server in this benchmark")


def case_worker(data_dir: str, url: str, sealed: str, claims: int, keys: dict[str, bytes]) -> dict[str, Any]:
    config = _open(data_dir, url)
    folders = FeedFolders(Path(data_dir) / "feeds" / "root")
    key_files = FeedKeyFiles(Path(data_dir), KeyWrapper(os.urandom(32)))
    key_files.set_our_secret_key(keys["ours"])
    key_files.set_partner_cert(PARTNER, certificate_of(keys["partner"]))
    key_files.save(feed_exchange.FeedPartnerConfig(PARTNER, require_signature=True))
    folders.ensure(PARTNER)
    os.replace(sealed, folders.inbound(PARTNER) / f"{NAME}.pgp")
    folders.mark_ready(PARTNER, f"{NAME}.pgp")
    journal, metrics = FeedRunJournal(folders.root), FeedMetrics()
    with open_ledger(config) as ledger, open_audit_log(config) as audit:
        processing = LedgerClaimsProcessing(ledger, audit, sealing_checkpoint(config), "standard")

        def now() -> datetime:
            return datetime.now(UTC)

        claims_inbound = ClaimsInbound(processing, folders, journal, metrics, lambda _event: None, now)
        worker = FeedWorker(
            folders,
            key_files,
            journal,
            SequoiaFeedCrypto(),
            _no_remote,
            LedgerFeedProcessing(ledger),
            metrics,
            lambda _event: None,
            now=now,
            claims=claims_inbound,
        )
        with measure_phase() as phase:
            steps = asyncio.run(worker.run_once(PARTNER, FeedKind.ELIGIBILITY))
    assert [(s.action, s.accepted) for s in steps] == [("processed", claims)], steps
    assert (folders.outbound(PARTNER) / f"claims_{PARTNER}_20260115.results.jsonl.pgp").exists()
    figures: dict[str, Any] = case_result(claims, phase).as_json()
    return figures


def run_backend(backend: str, postgres_url: str, source: Path, claims: int, keys: dict[str, bytes]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for case in ("direct", "worker"):
        with contextlib.ExitStack() as stack:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="claims-sftp-"))
            if backend == "sqlite":
                url = f"sqlite:///{stack.enter_context(fresh_sqlite_file())}"
            else:
                url = stack.enter_context(fresh_postgres_schema(postgres_url, "claims_sftp")).url
            if case == "direct":
                results[case] = run_in_subprocess(case_direct, data_dir, url, str(source), claims)
                continue
            sealed = Path(data_dir) / "sealed.pgp"
            pysequoia.encrypt_file(
                source,
                sealed,
                recipients=[pysequoia.Cert.from_bytes(certificate_of(keys["ours"]))],
                signer=pysequoia.Tsk.from_bytes(keys["partner"]).signer(),
                armor=False,
            )
            results[case] = run_in_subprocess(case_worker, data_dir, url, str(sealed), claims, keys)
    results["cpu_ratio_worker_to_direct"] = round(results["worker"]["cpu_s"] / results["direct"]["cpu_s"], 3)
    return results


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--claims", type=int, default=None)
    args = parser.parse_args()
    claims = args.claims or (2_000 if args.quick else 20_000)
    backends = parse_backends(args.backends)
    keys = {"ours": generate_secret_key("ledger"), "partner": generate_secret_key("partner")}
    with tempfile.TemporaryDirectory(prefix="claims-sftp-src-") as work:
        source = Path(work) / NAME
        size = build_file(source, claims)
        results = {backend: run_backend(backend, args.postgres_url, source, claims, keys) for backend in backends}
    table = []
    for backend, figures in results.items():
        for case in ("direct", "worker"):
            row = figures[case]
            table.append(
                [
                    backend,
                    case,
                    f"{row['seconds']:.2f}",
                    f"{row['cpu_s']:.2f}",
                    f"{row['cpu_us_per_event']:.0f}",
                    fmt_mib(int(row["rss_peak_mib"] * 1024)),
                ]
            )
    print_table(
        ["backend", "case", "wall s", "CPU s", "CPU µs/claim", "peak RSS"],
        table,
        title=f"{claims} claims, {size / 1048576:.1f} MiB",
    )
    emit_json(
        {
            "benchmark": "claims_sftp",
            "at": utc_now(),
            "claims": claims,
            "bytes": size,
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "results": results,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
