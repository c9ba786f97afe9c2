"""Hypothesis on both backends: however writes and seals interleave, every proof verifies against signed checkpoints."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.clock import SteppingClock
from support.databases import fresh_database
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs import generate_signer, verify_checkpoint

BACKENDS = ["sqlite", "postgresql"]
EXAMPLES = {"sqlite": 12, "postgresql": 5}
SIGNER = generate_signer("proveniq-ledger/property")

# ("write", events) saves that many events in one save; ("seal", cap) seals at most cap entries.
steps = st.lists(
    st.one_of(st.tuples(st.just("write"), st.integers(1, 12)), st.tuples(st.just("seal"), st.integers(1, 30))),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("kind", BACKENDS)
def test_every_proof_verifies_against_every_checkpoint(kind: str, request: pytest.FixtureRequest) -> None:
    """Inclusion of every position in every checkpoint, and consistency of every pair of checkpoints, verify."""
    server = request.getfixturevalue("postgres_server") if kind == "postgresql" else None

    @settings(max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps)
    def check(script: list[tuple[str, int]]) -> None:
        with fresh_database(kind, server) as url:
            ledger, recorder = open_toy_ledger(url)
            store = open_tree_store(StorageConfig(Path("unused"), url))
            try:
                written = 0
                for op, amount in script:
                    if op == "write":
                        ledger.app.save(*[Account.open("p", f"a{written + i}") for i in range(amount)])
                        written += amount
                    else:
                        Sealer(store, SIGNER, SteppingClock(), policy=SealPolicy(max_batch_entries=amount)).seal_once()
                service = ProofService(store, recorder)
                heads = {c.size: verify_checkpoint(c.note, SIGNER.verifier()) for c in store.checkpoints(0, 1000)}
                for size, head in heads.items():
                    for inclusion in service.prove_many(list(range(size)), size):
                        inclusion.verify(head.root_hash)
                for old, new in combinations(sorted(heads), 2):
                    consistency, _, _ = service.consistency(old, new)
                    consistency.verify(heads[old].root_hash, heads[new].root_hash)
                assert verify_tree_and_checkpoints(store, [SIGNER.verifier()]).checkpoints == len(heads)
            finally:
                store.close()
                ledger.close()

    check()
