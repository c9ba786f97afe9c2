"""The proofs benchmark's storage figures (benchmarks/proofs.py): the ledger's tables on disk, and the Merkle
tree's bytes per entry as tiles against the one-row-per-node layout the tiles replaced (issue 13)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def database_mib(url: str) -> float | None:
    """Size on disk of the ledger's tables (with indexes): the SQLite file, or the PostgreSQL relations."""
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite://"))
        files = [path, Path(f"{path}-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('ledger_log') + pg_total_relation_size('merkle_tiles')"
            " + pg_total_relation_size('checkpoints')"
        ).fetchone()
    return None if row is None else round(int(row[0]) / 2**20, 1)


NODE_ROWS_SCHEMA = {  # the one-row-per-node layout tiles replaced (issue 13), as it was created
    "sqlite": "CREATE TABLE node_rows_baseline (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "postgresql": "CREATE TABLE node_rows_baseline (level SMALLINT NOT NULL, idx BIGINT NOT NULL,"
    " hash BYTEA NOT NULL, PRIMARY KEY (level, idx))",
}


def tree_storage(url: str, store: Any, entries: int) -> dict[str, Any]:
    """Bytes on disk of the tree per entry: the tiles as stored, and the same tree as one row per node (level >= 1,
    the old layout: a table created, filled with every node the tiles imply, measured and dropped), same ledger."""
    nodes = _upper_nodes(store, entries)  # streamed: the case's peak RSS stays the proofs' own
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)
        try:
            conn.execute(NODE_ROWS_SCHEMA["sqlite"])
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO node_rows_baseline VALUES (?, ?, ?)", nodes)
            conn.execute("COMMIT")
            sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
            conn.execute("DROP TABLE node_rows_baseline")
        finally:
            conn.close()
        tiles = sizes.get("merkle_tiles", 0) + sizes.get("sqlite_autoindex_merkle_tiles_1", 0)
        rows = sizes.get("node_rows_baseline", 0)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute(NODE_ROWS_SCHEMA["postgresql"])
            with pg.cursor() as cursor, cursor.copy("COPY node_rows_baseline FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int2", "int8", "bytea"])
                for row in nodes:
                    copy.write_row(row)
            pg.execute("VACUUM ANALYZE node_rows_baseline")
            found = pg.execute(
                "SELECT pg_total_relation_size('merkle_tiles'), pg_total_relation_size('node_rows_baseline')"
            ).fetchone()
            pg.execute("DROP TABLE node_rows_baseline")
        tiles, rows = (int(found[0]), int(found[1])) if found else (0, 0)
    return {
        "tiles_bytes_per_entry": round(tiles / entries, 2),
        "node_rows_bytes_per_entry": round(rows / entries, 2),
        "node_rows": entries - entries.bit_count(),
    }


def _upper_nodes(store: Any, entries: int) -> Iterator[tuple[int, int, bytes]]:
    for start in range(0, entries, 65_536):
        completed = store.nodes_completed_in(start, min(entries, start + 65_536))
        yield from ((level, index, digest) for (level, index), digest in completed.items() if level > 0)
