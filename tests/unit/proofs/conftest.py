"""Shared fixtures for the `proofs` unit tests: the published vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rfc_vectors() -> Any:
    return load_json("rfc6962_vectors.json")


@pytest.fixture(scope="session")
def note_vectors() -> Any:
    return load_json("signed_note_vectors.json")
