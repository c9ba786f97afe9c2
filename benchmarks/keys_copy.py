"""The PostgreSQL key store's bulk batches: ``INSERT ... ON CONFLICT`` against binary ``COPY``, in one run.

An eligibility file's preparation asks the key store for a batch's keys at once
(``PostgresKeyStore.get_or_create_many``); a first file of new members creates them all. A batch with
``COPY_MIN_KEYS`` missing keys or more writes them with a binary ``COPY``; this script creates the same kind of
batches both ways through the real store (erasures read, existing keys read, new keys made, wrapped and
written, the commit), on one fresh schema per way, in interleaved rounds, and reports per key: the caller's
wall time, its CPU (this process), and the CPU of the PostgreSQL backend that served it.

    python benchmarks/keys_copy.py [--quick] [--batches 30] [--batch-size 2000] [--rounds 4]
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    machine_info,
    print_table,
    process_cpu_seconds,
    utc_now,
)

from _servers import pid_cpu_seconds

from adapters.files.master_key import KeyWrapper
from adapters.postgres.keys import COPY_MIN_KEYS, PostgresKeyStore

WAYS = ("insert", "copy")


def create_batches(store: PostgresKeyStore, batches: list[list[str]]) -> dict[str, float]:
    """Ask ``store`` for every batch's keys (all new); wall, process CPU and backend CPU in seconds."""
    backend = store._conn.info.backend_pid
    wall = cpu = server = 0.0
    for subjects in batches:
        server_before, cpu_before, start = pid_cpu_seconds(backend), process_cpu_seconds(), time.perf_counter()
        keys = store.get_or_create_many(subjects)
        wall += time.perf_counter() - start
        cpu += process_cpu_seconds() - cpu_before
        server += pid_cpu_seconds(backend) - server_before
        if len(keys.created) != len(subjects):
            raise RuntimeError(f"{len(subjects) - len(keys.created)} keys of a batch of new subjects were not created")
    return {"wall": wall, "cpu": cpu, "server": server}


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--batches", type=int, default=None, help="batches per way and round (30; quick 10)")
    parser.add_argument("--batch-size", type=int, default=2000, help="subjects per batch (default 2,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (4; quick 2)")
    args = parser.parse_args()
    batches = args.batches or (10 if args.quick else 30)
    rounds = args.rounds or (2 if args.quick else 4)
    if args.batch_size < COPY_MIN_KEYS:
        sys.exit(f"--batch-size must be at least COPY_MIN_KEYS ({COPY_MIN_KEYS})")
    per_round: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    started = utc_now()
    wrapper = KeyWrapper(bytes(range(32)))
    with (
        fresh_postgres_schema(args.postgres_url, "keyscopy_insert") as insert_schema,
        fresh_postgres_schema(args.postgres_url, "keyscopy_copy") as copy_schema,
    ):
        stores = {
            "insert": PostgresKeyStore(insert_schema.url, wrapper),
            "copy": PostgresKeyStore(copy_schema.url, wrapper),
        }
        stores["insert"].copy_min_keys = sys.maxsize  # never COPY
        try:
            for _ in range(rounds):
                for way in WAYS:
                    work = [[f"member:{uuid.uuid4()}" for _ in range(args.batch_size)] for _ in range(batches)]
                    per_round[way].append(create_batches(stores[way], work))
        finally:
            for store in stores.values():
                store.close()
    keys = batches * args.batch_size
    result: dict[str, Any] = {}
    for way in WAYS:
        result[way] = {
            name + "_us_per_key": round(statistics.median(r[name] for r in per_round[way]) / keys * 1e6, 2)
            for name in ("wall", "cpu", "server")
        }
    ratios = {name: round(result["copy"][name] / result["insert"][name], 3) for name in result["insert"]}
    print_table(
        ["per key (median of rounds)", *WAYS, "copy / insert"],
        [
            [name, str(result["insert"][name]), str(result["copy"][name]), str(ratios[name])]
            for name in result["insert"]
        ],
        title=f"{rounds} rounds of {batches} batches of {args.batch_size} new subjects",
    )
    emit_json(
        {
            "benchmark": "keys_copy",
            "started": started,
            "finished": utc_now(),
            "quick": args.quick,
            "machine": machine_info(args.postgres_url),
            "workload": {"batches": batches, "batch_size": args.batch_size, "rounds": rounds},
            "postgresql": result,
            "copy_over_insert": ratios,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
