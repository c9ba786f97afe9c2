"""The embedded sealer: a thread beside the writers; a save can wait for its seal and get a proof at once."""

from __future__ import annotations

import threading
from pathlib import Path

from support.clock import SteppingClock
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.files.signing_key import ensure_signing_key
from adapters.opening import start_embedded_sealer
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.sealing import SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs import verify_checkpoint


def test_writers_wait_for_their_seal_and_prove(database_url: str, tmp_path: Path) -> None:
    """Eight threads save and wait_until_sealed; each proof verifies against the checkpoint it got."""
    signer = ensure_signing_key(tmp_path)
    ledger, recorder = open_toy_ledger(database_url)
    config = StorageConfig(tmp_path, database_url)
    runner = start_embedded_sealer(config, SealPolicy(batch_entries=50, interval_ms=20), clock=SteppingClock())
    service = ProofService(runner.store, recorder)
    failures: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for index in range(10):
                [position] = ledger.app.save_returning_positions(Account.open("acme", f"w{thread}-{index}"))
                record = runner.waiter.wait_until_sealed(position, timeout=30)
                head = verify_checkpoint(record.note, signer.verifier())
                proof, _ = service.inclusion(position, record.size)
                proof.verify(head.root_hash)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        runner.stop()
        ledger.close()
    assert failures == []
    assert runner.error is None
    check = open_tree_store(config)
    try:
        summary = verify_tree_and_checkpoints(check, [signer.verifier()])
    finally:
        check.close()
    assert summary.log_size == 80
    assert summary.checkpoints == runner.seals
