"""Shared fixtures for the `proofs` unit tests: published vectors and test helpers on sys.path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "data"
# Helpers (reference.py, merkle_store.py) are imported by name, whatever pytest's import mode.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rfc_vectors() -> Any:
    return load_json("rfc6962_vectors.json")


@pytest.fixture(scope="session")
def note_vectors() -> Any:
    return load_json("signed_note_vectors.json")
