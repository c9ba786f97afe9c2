"""Proof services and offline checks: inclusion, consistency, history proofs and bundles over a memory store."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.engine.auditing import ProofService, check_bundle_envelopes, verify_history
from ledger_core.engine.merkle import NotSealed
from ledger_core.engine.sealing import Sealer
from proofs import verify_checkpoint
from proofs.bundle import (
    BUNDLE_FORMAT,
    HISTORY_FORMAT,
    BundleInvalid,
    parse_bundle,
    verify_bundle,
    write_bundle,
)
from proofs.note import NoteSigner, generate_signer

from .fakes import MemoryLog, MemoryTreeStore, StepClock


@pytest.fixture
def service(log: MemoryLog, store: MemoryTreeStore, sealer: Sealer) -> ProofService:
    """40 entries over 4 aggregates and 2 partners, sealed at 25 and 40."""
    for i in range(25):
        log.append(f"agg{i % 4}", partner="acme" if i % 2 else "zed")
    sealer.seal_once()
    for i in range(25, 40):
        log.append(f"agg{i % 4}", partner="acme" if i % 2 else "zed")
    sealer.seal_once()
    return ProofService(store, log)


def history_doc(service: ProofService, signer: NoteSigner, aggregate: str, size: int | None = None) -> Any:
    history = service.history(aggregate, size)
    out = io.StringIO()
    write_bundle(
        out,
        format=HISTORY_FORMAT,
        checkpoint=history.checkpoint.note,
        vkey=signer.verifier().vkey,
        tree_size=history.checkpoint.size,
        entries=history.entries,
        subject={"aggregateId": aggregate},
    )
    return json.loads(out.getvalue())


def test_inclusion_of_every_position_in_every_checkpoint(service: ProofService, signer: NoteSigner) -> None:
    """Each position's proof verifies against the signed root of each checkpoint that contains it."""
    for size in (25, 40):
        head = verify_checkpoint(service.checkpoint(size).note, signer.verifier())
        for position in range(size):
            proof, record = service.inclusion(position, size)
            assert record.size == size
            proof.verify(head.root_hash)


def test_one_read_per_proof(service: ProofService, store: MemoryTreeStore) -> None:
    """A proof costs one batched node read, including its leaf hash."""
    store.fetches.clear()
    service.inclusion(17)
    assert len(store.fetches) == 1
    assert len(store.fetches[0]) <= 2 * (40).bit_length() + 1


def test_unsealed_position_is_not_provable(service: ProofService, log: MemoryLog) -> None:
    """A position beyond the checkpoint raises NotSealed (the caller may wait for the sealer)."""
    log.append("new")
    with pytest.raises(NotSealed):
        service.inclusion(40)
    with pytest.raises(NotSealed):
        service.inclusion(30, size=25)
    with pytest.raises(NotSealed):
        service.checkpoint(33)


def test_consistency_between_checkpoints(service: ProofService) -> None:
    """The proof from 25 to 40 verifies against the two stored roots; from 0 it is empty."""
    proof, old, new = service.consistency(25, 40)
    assert old is not None
    proof.verify(old.root_hash, new.root_hash)
    empty, none, _ = service.consistency(0, 40)
    assert (empty.path, none) == ((), None)


def test_history_proof_verifies(service: ProofService, signer: NoteSigner) -> None:
    """An aggregate's whole history up to a checkpoint verifies offline, pinned to the key."""
    doc = history_doc(service, signer, "agg1")
    summary = verify_history(parse_bundle(json.dumps(doc)), [signer.verifier().vkey])
    assert (summary.aggregate_id, summary.versions, summary.head_position) == ("agg1", 10, 37)
    assert summary.report.pinned


def test_history_at_an_older_checkpoint(service: ProofService, signer: NoteSigner) -> None:
    """At checkpoint 25 the history stops at the aggregate's head then."""
    doc = history_doc(service, signer, "agg1", size=25)
    assert verify_history(parse_bundle(json.dumps(doc))).versions == 6


def test_history_with_a_missing_event_fails(service: ProofService, signer: NoteSigner) -> None:
    """Leaving out an event in the middle breaks the version sequence and back-links."""
    doc = history_doc(service, signer, "agg2")
    del doc["entries"][3]
    with pytest.raises(BundleInvalid, match=r"entry 3 .*event is missing"):
        verify_history(parse_bundle(json.dumps(doc)))


def test_history_missing_the_first_event_fails(service: ProofService, signer: NoteSigner) -> None:
    """A history must start at version 1 with no back-link."""
    doc = history_doc(service, signer, "agg2")
    del doc["entries"][0]
    with pytest.raises(BundleInvalid, match="entry 0"):
        verify_history(parse_bundle(json.dumps(doc)))


def test_history_cut_short_still_verifies_which_is_the_documented_limit(
    service: ProofService, signer: NoteSigner
) -> None:
    """Dropping the newest events is NOT detectable from one proof alone (docs/proofs.md explains)."""
    doc = history_doc(service, signer, "agg3")
    doc["entries"] = doc["entries"][:4]
    assert verify_history(parse_bundle(json.dumps(doc))).versions == 4


def test_history_with_a_foreign_entry_fails(service: ProofService, signer: NoteSigner) -> None:
    """An entry of another aggregate (validly included) cannot be passed off as part of the history."""
    doc = history_doc(service, signer, "agg0")
    other = history_doc(service, signer, "agg1")
    doc["entries"][-1] = other["entries"][-1]
    with pytest.raises(BundleInvalid, match="belongs to aggregate agg1"):
        verify_history(parse_bundle(json.dumps(doc)))


def partner_bundle(service: ProofService, log: MemoryLog, signer: NoteSigner, partner: str) -> Any:
    record = service.checkpoint()
    out = io.StringIO()
    count = write_bundle(
        out,
        format=BUNDLE_FORMAT,
        checkpoint=record.note,
        vkey=signer.verifier().vkey,
        tree_size=record.size,
        subject={"partnerId": partner},
        entries=service.partner_entries(log, partner, record.size),
    )
    assert count == sum(1 for row in log.rows[: record.size] if row.partner_id == partner)
    return json.loads(out.getvalue())


def test_partner_bundle_verifies(service: ProofService, log: MemoryLog, signer: NoteSigner) -> None:
    """A partner's bundle: opaque verification, then the envelope check (positions and partner)."""
    bundle = parse_bundle(json.dumps(partner_bundle(service, log, signer, "acme")))
    report = verify_bundle(bundle)
    assert (report.entries, report.checkpoint.size, report.pinned) == (20, 40, False)
    assert check_bundle_envelopes(bundle) == 20


def test_bundle_of_another_partners_entry_fails_the_envelope_check(
    service: ProofService, log: MemoryLog, signer: NoteSigner
) -> None:
    """Entries of another partner, even validly included, are refused by the envelope check."""
    doc = partner_bundle(service, log, signer, "acme")
    doc["subject"]["partnerId"] = "zed"
    bundle = parse_bundle(json.dumps(doc))
    verify_bundle(bundle)
    with pytest.raises(BundleInvalid, match="belongs to partner 'acme'"):
        check_bundle_envelopes(bundle)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_any_flipped_entry_byte_is_caught(data: st.DataObject) -> None:
    """Flipping any bit of any entry (and fixing up its stated leaf hash) fails the inclusion proof."""
    log = MemoryLog()
    for i in range(data.draw(st.integers(1, 30))):
        log.append(f"x{i % 3}")
    store = MemoryTreeStore(log)
    signer = generate_signer("proveniq-ledger/h")
    Sealer(store, signer, StepClock()).seal_once()
    doc = partner_bundle(ProofService(store, log), log, signer, "acme")
    index = data.draw(st.integers(0, len(doc["entries"]) - 1))
    raw = bytearray(parse_bundle(json.dumps(doc)).entries[index].entry)
    bit = data.draw(st.integers(0, 8 * len(raw) - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    doc["entries"][index]["entry"] = base64.b64encode(bytes(raw)).decode()
    doc["entries"][index]["leafHash"] = hashlib.sha256(b"\x00" + bytes(raw)).hexdigest()
    with pytest.raises(BundleInvalid, match=rf"entry {index} .*inclusion proof"):
        verify_bundle(parse_bundle(json.dumps(doc)))
