"""docs/embedding.md stays true: its python blocks run, in order, against a real ledger."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "embedding.md"


def test_embedding_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every ```python block of the page executes without error, sharing one namespace, as a reader would."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_MASTER_KEY", raising=False)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    output = capsys.readouterr().out
    assert "erased for good" in output
    assert "MASTER_KEY_MISMATCH" in output  # a wrong master key is refused at open
    assert "the master key must be given" in output  # a URL alone names no key
    assert "proveniq-ledger/inclusion-proof/v1" in output  # sealed, proven, verified offline
    assert (tmp_path / "ledger-data" / "ledger.db").exists()
    assert oct(os.stat(tmp_path / "ledger-data" / "master.key").st_mode & 0o777) == "0o600"
