"""The eligibility feed's bulk path for members (seed 001 §2.2; issue 14 item 9): many checked records, one save.

:meth:`MemberBatches.upsert_batch` registers or updates the records of one batch in ONE save through the
group commit, with all of the batch's data keys from one key-store call. A new member's
``member.registered`` event is built as a log draft straight from its checked record and what the vault
sealed (:func:`registration_payload`, :meth:`LedgerApplication.creation_draft`): the same payload
:meth:`Member.register` records, hence the same entry bytes and hashes, without building the aggregate,
re-checking the shapes the vault just produced or the mapper's JSON check of every value (the values are
strings, booleans and None made by :meth:`MemberService.check` and the vault). Existing members are loaded
and updated as :meth:`MemberService.upsert` updates them; a member that appears twice in one batch is built
as an aggregate (its second record updates it in the same save).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.envelope import CanonicalPayload, EventDraft, encode_payload, payload_value
from ledger_core.engine.mapper import event_id_for
from ledger_core.members.member import Member, MemberService, member_id_text, subject_of
from ledger_core.members.member_record import PLAIN_FIELDS, CheckedRecord
from ledger_core.members.privacy import PersonalDataVault, SealedFields
from ledger_core.shared.validation import check_partner_slug


class BatchChange(StrEnum):
    """What :meth:`MemberBatches.upsert_batch` did with one record."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERASED = "erased"
    """Refused: the member was erased (crypto-shredded) and is never registered again."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    partner_member_id: str
    change: BatchChange


@dataclass(slots=True)
class _BatchPlan:
    """What one batch records: the new members' drafts, the members built (``created``) or updated, and
    one outcome per record."""

    outcomes: list[BatchOutcome] = field(default_factory=list)
    drafts: list[EventDraft] = field(default_factory=list)
    created: dict[UUID, Member] = field(default_factory=dict)
    updated: dict[UUID, Member] = field(default_factory=dict)


class SealedRecord(NamedTuple):
    """A checked record whose personal fields are sealed already (:meth:`MemberBatches.seal_records`): no
    plaintext, so it may cross a process boundary (a named tuple: cheap to pickle).

    ``registration`` is the member's ``member.registered`` draft, used when the member turns out to be new,
    its payload already encoded (:class:`~ledger_core.engine.envelope.CanonicalPayload`: it crosses as bytes
    and is spliced into the entry as it is); None when the member's keys were erased. The sealed and plain
    fields are read back from that payload (:meth:`fields`) for a member that exists already.

    ``key_created``: the member's key was created when its fields were sealed. A member registers only with
    its key, so no member with this id exists: planning does not look it up (:meth:`MemberBatches.plan_sealed`).
    A registration by another path between the sealing and the save would make the save refused by the log
    (the aggregate exists), never a second member."""

    partner_member_id: str
    member_id: UUID
    email_opt_in: bool
    registration: EventDraft | None
    key_created: bool = False

    def fields(self) -> tuple[SealedFields, dict[str, Any]] | None:
        """:func:`registration_fields` of the record's draft (None: erased)."""
        return None if self.registration is None else registration_fields(self.registration)

    def __reduce__(self) -> tuple[Callable[..., SealedRecord], tuple[object, ...]]:
        """Pickled flat: the id as its 16 bytes, the draft as its varying parts (it comes back from a worker
        process a batch at a time; the named tuples' and UUID's own pickling cost ~3x more)."""
        draft = self.registration
        member = (self.partner_member_id, self.member_id.bytes, self.email_opt_in, self.key_created)
        if draft is None:
            return _unpickled_record, (*member, None, None, None)
        return _unpickled_record, (*member, draft.event_id, draft.partner_id, draft.payload)


def registration_fields(registration: EventDraft) -> tuple[SealedFields, dict[str, Any]]:
    """``(sealed fields, plain fields)`` of a ``member.registered`` draft, as :func:`registration_payload`
    received them."""
    payload = payload_value(registration.payload)
    return (payload["personal"], payload["fingerprints"]), {name: payload[name] for name in PLAIN_FIELDS}


def _unpickled_record(
    partner_member_id: str,
    id_bytes: bytes,
    email_opt_in: bool,
    key_created: bool,
    event_id: str | None,
    partner_id: str | None,
    payload: CanonicalPayload | dict[str, Any] | None,
) -> SealedRecord:
    member = UUID(bytes=id_bytes)
    if event_id is None or payload is None:
        return SealedRecord(partner_member_id, member, email_opt_in, None, key_created)
    draft = EventDraft(
        event_id, Member.Registered.EVENT_TYPE, Member.AGGREGATE_TYPE, str(member), 1, partner_id, payload
    )
    return SealedRecord(partner_member_id, member, email_opt_in, draft, key_created)


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """A batch planned by :meth:`MemberBatches.plan_sealed`, ready for :meth:`MemberBatches.save_batch`."""

    partner_id: str
    plan: _BatchPlan

    @property
    def outcomes(self) -> list[BatchOutcome]:
        """One outcome per record, in order."""
        return self.plan.outcomes


CloseBatch = Callable[[int, Sequence[BatchOutcome]], LedgerAggregate]
"""``close_batch(member events, outcomes)``: the aggregate holding the batch's closing event."""


def registration_payload(partner_member_id: str, sealed: SealedFields, plain: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of the ``member.registered`` event :meth:`Member.register` records for a checked record
    (``partner_member_id`` and ``plain`` from :meth:`MemberService.check`) and its sealed fields (from
    :meth:`~ledger_core.members.privacy.PersonalDataVault.seal_many`): every field of
    :class:`Member.Registered` but the envelope's header fields."""
    personal, fingerprints = sealed
    return {
        "partner_member_id": partner_member_id,
        "personal": personal,
        "fingerprints": fingerprints,
        "gender": plain["gender"],
        "state": plain["state"],
        "policy_type": plain["policy_type"],
        "policy_start_date": plain["policy_start_date"],
        "email_opt_in": plain["email_opt_in"],
    }


def registration_draft(partner_id: str, aggregate_id: str, record: CheckedRecord, sealed: SealedFields) -> EventDraft:
    """The ``member.registered`` draft of a new member, as
    :meth:`~ledger_core.engine.mapper.EnvelopeMapper.creation_draft` makes it from
    :func:`registration_payload` (version 1 of aggregate type ``Member``), built without the application
    so that worker processes can build it; its payload encoded (:func:`~ledger_core.engine.envelope.
    encode_payload`). ``aggregate_id``: the member's id as text."""
    payload = encode_payload(registration_payload(record.partner_member_id, sealed, record.plain))
    return EventDraft(
        event_id_for(aggregate_id, 1),
        Member.Registered.EVENT_TYPE,
        Member.AGGREGATE_TYPE,
        aggregate_id,
        1,
        partner_id,
        payload,
    )


class MemberBatches:
    """The members' bulk path (the eligibility feed's), on the members' service, vault and counters."""

    def __init__(self, members: MemberService) -> None:
        self.members = members

    def upsert_batch(
        self,
        partner_id: str,
        records: Sequence[CheckedRecord],
        *,
        present: Callable[[Sequence[UUID]], Collection[UUID]] | None,
        close_batch: CloseBatch,
    ) -> list[BatchOutcome]:
        """Register or update many checked records in ONE save: :meth:`seal_records`, :meth:`plan_sealed`,
        then :meth:`save_batch`."""
        sealed = self.seal_records(self.members.vault, partner_id, records)
        return self.save_batch(self.plan_sealed(partner_id, sealed, present=present), close_batch)

    @staticmethod
    def seal_records(vault: PersonalDataVault, partner_id: str, records: Sequence[CheckedRecord]) -> list[SealedRecord]:
        """Seal every record's personal fields under its member's key (one key-store call, keys created where
        missing: :meth:`PersonalDataVault.seal_many`); an erased member gets no registration draft. Needs no log,
        only the vault: the eligibility feed runs it in worker processes."""
        partner_id = check_partner_slug(partner_id)
        ids = [member_id_text(partner_id, record.partner_member_id) for record in records]
        subjects = [subject_of(id_text) for id_text in ids]
        sealed, new_keys = vault.seal_batch(
            {subject: record.personal for record, subject in zip(records, subjects, strict=True)}
        )
        found: list[SealedRecord] = []
        for record, id_text, subject in zip(records, ids, subjects, strict=True):
            keys = sealed.get(subject)
            draft = None if keys is None else registration_draft(partner_id, id_text, record, keys)
            found.append(
                SealedRecord(
                    record.partner_member_id, UUID(id_text), record.plain["email_opt_in"], draft, subject in new_keys
                )
            )
        return found

    def plan_sealed(
        self,
        partner_id: str,
        records: Sequence[SealedRecord],
        *,
        present: Callable[[Sequence[UUID]], Collection[UUID]] | None,
    ) -> PlannedBatch:
        """What saving ``records`` (sealed by :meth:`seal_records`) will record, nothing written yet.

        ``present(ids)`` says which member ids already exist (one query for the batch; None: look each up),
        asked only of the records whose key existed before they were sealed (``key_created``: no member yet);
        those are loaded and updated as :meth:`MemberService.upsert` would, the others registered. A member
        without keys (erased: the key store refuses it a key) is refused (``ERASED``), nothing recorded.
        Plans of DIFFERENT members may be made while an earlier plan is being saved (the eligibility feed
        plans batch k+1 while batch k commits; a file's batches never share a member)."""
        partner_id = check_partner_slug(partner_id)
        existing = self._existing([record.member_id for record in records if not record.key_created], present)
        return PlannedBatch(partner_id, self._plan(partner_id, records, existing))

    def save_batch(self, planned: PlannedBatch, close_batch: CloseBatch) -> list[BatchOutcome]:
        """Save a :meth:`plan_sealed` result in ONE save through the group commit.

        ``close_batch(n, outcomes)`` returns an aggregate holding one pending event that is saved LAST in
        the same save, after the ``n`` member events (the feed's durable progress): the batch is recorded
        whole or not at all. The new members' ``eligible`` counters are added per batch
        (:meth:`OutcomeProjection.registering_batch`). Returns one :class:`BatchOutcome` per record, in
        order.
        """
        plan = planned.plan
        members = [*plan.created.values(), *plan.updated.values()]
        self._save_batch(planned.partner_id, plan.drafts, members, len(plan.created), close_batch, plan.outcomes)
        return plan.outcomes

    @staticmethod
    def _plan(partner_id: str, records: Sequence[SealedRecord], existing: dict[UUID, Member]) -> _BatchPlan:
        """What each record changes: its draft for a new member (an aggregate when it repeats in the batch, so
        that its repeat updates it), an update of each existing one, ``ERASED`` where there are no keys."""
        repeated = {aggregate_id for aggregate_id, count in Counter(r.member_id for r in records).items() if count > 1}
        plan = _BatchPlan()
        for record in records:
            aggregate_id, registration = record.member_id, record.registration
            member = existing.get(aggregate_id)
            if registration is None or (member is not None and member.erased):
                change = BatchChange.ERASED
            elif member is None and aggregate_id not in repeated:
                plan.drafts.append(registration)
                change = BatchChange.CREATED
            elif member is None:
                sealed, plain = registration_fields(registration)
                member = Member.register_sealed(aggregate_id, partner_id, record.partner_member_id, sealed, plain)
                existing[aggregate_id] = plan.created[aggregate_id] = member  # its repeat in this batch updates it
                change = BatchChange.CREATED
            else:
                sealed, plain = registration_fields(registration)
                if member.update(personal=sealed[0], fingerprints=sealed[1], **plain):
                    if aggregate_id not in plan.created:
                        plan.updated[aggregate_id] = member
                    change = BatchChange.UPDATED
                else:
                    change = BatchChange.UNCHANGED
            plan.outcomes.append(BatchOutcome(record.partner_member_id, change))
        return plan

    def _existing(
        self, ids: Sequence[UUID], present: Callable[[Sequence[UUID]], Collection[UUID]] | None
    ) -> dict[UUID, Member]:
        """The members among ``ids`` that exist, loaded (one existence query first when ``present`` is given)."""
        known = set(present(ids)) if present is not None else None
        existing: dict[UUID, Member] = {}
        for aggregate_id in ids:
            if known is None or aggregate_id in known:
                found = self.members.app.find(Member, aggregate_id)
                if found is not None:
                    existing[aggregate_id] = found
        return existing

    def _save_batch(
        self,
        partner_id: str,
        drafts: list[EventDraft],
        members: list[Member],
        created: int,
        close_batch: CloseBatch,
        outcomes: Sequence[BatchOutcome],
    ) -> None:
        """One save: the new members' drafts, the ``members`` (the first ``created`` of them new), then the
        marker; every new member counted once."""
        firsts = list(range(len(drafts)))  # index in the save of each new member's member.registered event
        events = len(drafts)
        for index, member in enumerate(members):
            if index < created:
                firsts.append(events)
            events += len(member.pending_events)
        marker = close_batch(events, outcomes)
        with self.members.outcomes.registering_batch(partner_id, marker) as saved:
            positions = self.members.app.save_drafts(drafts, *members, marker)
            saved([positions[index] for index in firsts])
