"""The append benchmark's raw eventsourcing cases (benchmarks/append.py): a, b (new aggregates) and b2 (steady).

Plain eventsourcing 9.5 with its own recorders, the baseline the ledger's rates are compared with.
"""

from __future__ import annotations

from _common import CaseResult, case_result, measure_phase

from _append_workload import NOTE_TEXT, WARMUP_BATCHES, WARMUP_SINGLE, RawAccount, RawApp


def raw_env(backend: str, target: str) -> dict[str, str]:
    """eventsourcing settings: ``target`` is the SQLite path, or ``server_url|schema`` for PostgreSQL."""
    if backend == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}
    from psycopg.conninfo import conninfo_to_dict

    server_url, schema = target.split("|", 1)
    params = conninfo_to_dict(server_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password") or "x"),  # required by eventsourcing even with trust auth
        "POSTGRES_SCHEMA": schema,
    }


def raw_case(backend: str, target: str, events: int, per_save: int) -> CaseResult:
    """Cases a and b: ``events`` new aggregates, ``per_save`` per ``app.save``."""
    app = RawApp(env=raw_env(backend, target))
    try:
        warmup = WARMUP_SINGLE if per_save == 1 else WARMUP_BATCHES * per_save

        def run(count: int) -> None:
            if per_save == 1:
                for _ in range(count):
                    app.save(RawAccount(name="raw"))
            else:
                for _ in range(count // per_save):
                    app.save(*[RawAccount(name="raw") for _ in range(per_save)])

        run(warmup)
        with measure_phase() as phase:
            run(events)
        stored = app.recorder.max_notification_id() or 0
        if stored != warmup + events:
            raise RuntimeError(f"raw eventsourcing stored {stored} events, expected {warmup + events}")
        return case_result(events, phase, verified=True)
    finally:
        app.close()


def raw_steady_case(backend: str, target: str, events: int, per_save: int) -> CaseResult:
    """Case b2: one long-lived aggregate (created in setup); ``per_save`` events triggered per ``app.save``."""
    app = RawApp(env=raw_env(backend, target))
    try:
        account = RawAccount(name="raw")
        app.save(account)  # setup: the aggregate exists before anything is measured
        warmup = WARMUP_SINGLE if per_save == 1 else WARMUP_BATCHES * per_save

        def run(count: int) -> None:
            for _ in range(count // per_save):
                for _ in range(per_save):
                    account.note(NOTE_TEXT)
                app.save(account)

        run(warmup)
        with measure_phase() as phase:
            run(events)
        expected = 1 + warmup + events
        stored = app.recorder.max_notification_id() or 0
        if stored != expected or account.version != expected:
            raise RuntimeError(
                f"raw eventsourcing stored {stored} events (aggregate version {account.version}), expected {expected}"
            )
        return case_result(events, phase, verified=True, aggregates=1)
    finally:
        app.close()
