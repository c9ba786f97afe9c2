"""Key files are created once, whole and private, however many processes start at the same moment."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from adapters.files.master_key import load_master_key
from adapters.files.private_files import create_private_file, ensure_private_file
from api.security.secrets import load_deployment_secret, load_token_key


def _race(loader: str, data_dir: str, start: object, results: object) -> None:
    functions = {"master": load_master_key, "deployment": load_deployment_secret, "token": load_token_key}
    start.wait()  # type: ignore[attr-defined]
    results.put(functions[loader](Path(data_dir)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("loader", ["master", "deployment", "token"])
def test_workers_starting_together_share_one_key(tmp_path: Path, loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEDGER_MASTER_KEY", "LEDGER_DEPLOYMENT_SECRET", "LEDGER_TOKEN_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(6), context.Queue()
    workers = [context.Process(target=_race, args=(loader, str(tmp_path), start, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert len(set(keys)) == 1
    created = list(tmp_path.iterdir())
    assert len(created) == 1, created  # no temporary files left behind
    assert stat.S_IMODE(created[0].stat().st_mode) == 0o600


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k"
    create_private_file(path, b"first")
    with pytest.raises(FileExistsError):
        create_private_file(path, b"second")
    assert ensure_private_file(path, lambda: b"third") == b"first"
    assert path.read_bytes() == b"first"
