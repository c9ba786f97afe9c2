"""One owner per table per backend: only ``adapters/<backend>/<module>.py`` writes SQL naming a table.

Every string literal of ``adapters`` (docstrings left out) that uses a table in SQL (``FROM``, ``JOIN``,
``INTO``, ``UPDATE``, ``TABLE``, ``COPY``, ``LOCK TABLE``, an existence check) is attributed to its module;
each table must be written about by exactly one module per backend, the one the map below names, and by
no module outside a backend folder. Other modules read through the owners' methods.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[2]
ADAPTERS = ROOT / "adapters"
BACKENDS = ("sqlite", "postgres")

OWNERS = {
    "ledger_log": "log",
    "merkle_tiles": "tree",
    "merkle_nodes": "tree",  # legacy: read and dropped by ``ledger migrate`` only
    "checkpoints": "tree",
    "webhook_tracking": "outbox",
    "webhook_endpoints": "outbox",
    "webhook_messages": "outbox",
    "webhook_deliveries": "outbox",
    "webhook_attempts": "outbox",
    "outcome_counts": "outcomes",
    "outcome_changes": "outcomes",
    "subject_keys": "keys",
    "master_key_fingerprint": "keys",
    "erased_subjects": "keys",
    "sso_login_stats": "sso_health",
    "sso_oidc_tokens": "oidc_tokens",
    "sso_sessions": "sessions",
    "sso_session_tokens": "sessions",
    "sso_one_time": "sessions",
    "theme_assets": "theme_assets",
    "claim_facts_progress": "claim_facts",
    "claim_facts_claims": "claim_facts",
    "claim_facts_uses": "claim_facts",
    "claim_facts_amounts": "claim_facts",
    "claim_facts_references": "claim_facts",
    "claim_facts_registrations": "claim_facts",
}


def _uses(table: str) -> re.Pattern[str]:
    name = re.escape(table)
    return re.compile(
        rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|COPY|EXISTS)\s+{name}\b|to_regclass\('{name}'\)|name = '{name}'",
        re.IGNORECASE,
    )


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_writers() -> dict[str, set[str]]:
    """Table -> the modules (paths relative to the repository) whose string literals use it in SQL."""
    patterns = {table: _uses(table) for table in OWNERS}
    writers: dict[str, set[str]] = defaultdict(set)
    for path in sorted(ADAPTERS.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for table, pattern in patterns.items():
                    if pattern.search(node.value):
                        writers[table].add(str(path.relative_to(ROOT)))
    return writers


def test_every_table_has_one_owner_per_backend() -> None:
    """Each table's SQL is written in adapters/<backend>/<owner>.py and nowhere else."""
    expected = {table: {f"adapters/{b}/{owner}.py" for b in BACKENDS} for table, owner in OWNERS.items()}
    assert sql_writers() == expected


def test_every_created_table_is_in_the_map() -> None:
    """A new table must be given an owner here (and so a module per backend) before it is used."""
    created = set()
    for path in ADAPTERS.rglob("*.py"):
        created.update(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", path.read_text()))
    assert created == set(OWNERS) - {"merkle_nodes"}  # never created again: ledger migrate drops it
