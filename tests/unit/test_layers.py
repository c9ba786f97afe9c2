"""Dependencies point down only: ledger_core and proofs import nothing from adapters or api."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def imported_top_level_packages(package: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update((str(path.relative_to(ROOT)), alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


def test_domain_and_proofs_do_not_import_outer_layers() -> None:
    """No module of ledger_core or proofs imports adapters or api (statically, anywhere in the file)."""
    offenders = {
        (module, target)
        for package in ("ledger_core", "proofs")
        for module, target in imported_top_level_packages(package)
        if target in {"adapters", "api"}
    }
    assert offenders == set()


def test_proofs_depend_on_nothing_of_ours() -> None:
    """proofs imports none of ledger_core, adapters or api: a verifier stands alone."""
    offenders = {
        (module, target)
        for module, target in imported_top_level_packages("proofs")
        if target in {"ledger_core", "adapters", "api"}
    }
    assert offenders == set()


def test_import_linter_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml pass (they also see indirect imports)."""
    lint_imports = shutil.which("lint-imports") or str(Path(ROOT / ".venv/bin/lint-imports"))
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
