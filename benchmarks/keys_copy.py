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

import sys
import uuid

from _common import fresh_postgres_schema

from _copy_report import Meter, parse_workload, report_ways, run_rounds

from adapters.files.master_key import KeyWrapper
from adapters.postgres.keys import COPY_MIN_KEYS, PostgresKeyStore


def create_batches(store: PostgresKeyStore, batches: list[list[str]]) -> dict[str, float]:
    """Ask ``store`` for every batch's keys (all new); wall, process CPU and backend CPU in seconds."""
    meter = Meter(store._conn.info.backend_pid)
    for subjects in batches:
        with meter.measure():
            keys = store.get_or_create_many(subjects)
        if len(keys.created) != len(subjects):
            raise RuntimeError(f"{len(subjects) - len(keys.created)} keys of a batch of new subjects were not created")
    seconds: dict[str, float] = meter.seconds
    return seconds


def main() -> None:
    workload = parse_workload(__doc__ or "", "subjects", COPY_MIN_KEYS, "COPY_MIN_KEYS")
    wrapper = KeyWrapper(bytes(range(32)))
    with (
        fresh_postgres_schema(workload.args.postgres_url, "keyscopy_insert") as insert_schema,
        fresh_postgres_schema(workload.args.postgres_url, "keyscopy_copy") as copy_schema,
    ):
        stores = {
            "insert": PostgresKeyStore(insert_schema.url, wrapper),
            "copy": PostgresKeyStore(copy_schema.url, wrapper),
        }
        stores["insert"].copy_min_keys = sys.maxsize  # never COPY
        try:
            per_round = run_rounds(
                workload.rounds,
                lambda way: create_batches(
                    stores[way],
                    [[f"member:{uuid.uuid4()}" for _ in range(workload.batch_size)] for _ in range(workload.batches)],
                ),
            )
        finally:
            for store in stores.values():
                store.close()
    report_ways(
        "keys_copy",
        workload,
        per_round,
        unit="key",
        title=f"{workload.rounds} rounds of {workload.batches} batches of {workload.batch_size} new subjects",
    )


if __name__ == "__main__":
    main()
