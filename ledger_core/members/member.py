"""Members: eligibility records from the partner's eligibility feed (seed 001 §2.2).

The id is ``derive_id("member", partner_id, partner_member_id)``. Personal fields (email, first and last
name, date of birth) reach the aggregate already sealed by :class:`~ledger_core.members.privacy.PersonalDataVault`,
each with a salted commitment; the aggregate checks shapes and compares commitments, never plaintext.
Nothing derived from personal data is stored in plaintext either (no age, no "adult on" date: any such
date pins down the date of birth forever). The 18+ rule is checked on plaintext that never reaches the
log: :meth:`MemberService.upsert` refuses a row whose member is under 18 today
(:class:`~ledger_core.members.errors.NotEligible`, rule ``age_18_plus``, field ``date_of_birth``), and
enrolling opens the sealed date of birth to check the age on the enrollment date
(:mod:`ledger_core.members.enrollments`). An update whose plain fields and commitments are unchanged records
nothing; unchanged personal fields keep their existing ciphertext. After ``mark_erased`` the member is frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id, derive_id_text
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.engine.ports import Clock
from ledger_core.members.member_record import (
    PERSONAL_FIELDS,
    CheckedRecord,
    EligibilityRecord,
    check_plain_profile,
    check_record,
)
from ledger_core.members.outcomes import ChangeTracker, NoTracking
from ledger_core.members.privacy import PersonalDataVault, SealedFields, check_commitment, check_sealed
from ledger_core.shared.service_support import save, today
from ledger_core.shared.validation import (
    check_identifier,
    check_partner_slug,
)
from ledger_core.shared.vocabulary import Gender, PolicyType


def member_id(partner_id: str, partner_member_id: str) -> UUID:
    return derive_id("member", partner_id, partner_member_id)


def member_id_text(partner_id: str, partner_member_id: str) -> str:
    """``str(member_id(...))`` without building the ``UUID``."""
    return derive_id_text("member", partner_id, partner_member_id)


def member_subject(partner_id: str, partner_member_id: str) -> str:
    """The privacy subject (key owner) for a member: erasing it shreds all of the member's personal data."""
    return subject_of(member_id(partner_id, partner_member_id))


def subject_of(member: UUID | str) -> str:
    """:func:`member_subject` from the member's id (a ``UUID`` or its text)."""
    return f"member:{member}"


def _check_profile(
    personal: Mapping[str, Any],
    fingerprints: Mapping[str, Any],
    gender: str | None,
    state: str,
    policy_type: str,
    policy_start_date: str | None,
    email_opt_in: bool = False,
) -> dict[str, Any]:
    if set(personal) != set(PERSONAL_FIELDS) or set(fingerprints) != set(PERSONAL_FIELDS):
        raise InvalidCommand(f"personal data must have exactly {list(PERSONAL_FIELDS)}", field="personal")
    plain = check_plain_profile(gender, state, policy_type, policy_start_date, email_opt_in)
    return {
        "personal": {name: check_sealed(personal[name], name) for name in PERSONAL_FIELDS},
        "fingerprints": {name: check_commitment(fingerprints[name], name) for name in PERSONAL_FIELDS},
        **plain,
    }


class Member(LedgerAggregate):
    """An eligible policyholder of one partner."""

    AGGREGATE_TYPE: ClassVar[str] = "Member"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Registered(Created):
        EVENT_TYPE: ClassVar[str] = "member.registered"
        partner_member_id: str
        personal: dict[str, Any]
        fingerprints: dict[str, Any]
        gender: str | None
        state: str
        policy_type: str
        policy_start_date: str | None
        email_opt_in: bool = False  # our extension (docs/feeds.md); absent from events recorded before it

    class Updated(Event):
        EVENT_TYPE: ClassVar[str] = "member.updated"
        personal: dict[str, Any]
        fingerprints: dict[str, Any]
        gender: str | None
        state: str
        policy_type: str
        policy_start_date: str | None
        changed: list[str]
        email_opt_in: bool = False

        def apply(self, aggregate: Member) -> None:
            aggregate._set_profile(
                self.personal,
                self.fingerprints,
                self.gender,
                self.state,
                self.policy_type,
                self.policy_start_date,
                self.email_opt_in,
            )

    class EligibilityEmailed(Event):
        """The feed worker is sending the member the "you're eligible" email (recorded BEFORE the send: at
        most once, whatever crashes; docs/feeds.md). Names the file that made the member eligible."""

        EVENT_TYPE: ClassVar[str] = "member.eligibility_emailed"
        file_id: str

        def apply(self, aggregate: Member) -> None:
            aggregate.eligibility_emailed = True

    class PersonalDataErased(Event):
        EVENT_TYPE: ClassVar[str] = "member.personal_data_erased"
        keys_destroyed: int

        def apply(self, aggregate: Member) -> None:
            aggregate.erased = True

    def __init__(
        self,
        partner_id: str | None,
        partner_member_id: str,
        personal: dict[str, Any],
        fingerprints: dict[str, Any],
        gender: str | None,
        state: str,
        policy_type: str,
        policy_start_date: str | None,
        email_opt_in: bool = False,
    ) -> None:
        self.partner_id = partner_id
        self.partner_member_id = partner_member_id
        self.erased = False
        self.eligibility_emailed = False
        self._set_profile(personal, fingerprints, gender, state, policy_type, policy_start_date, email_opt_in)

    def _set_profile(
        self,
        personal: Mapping[str, Any],
        fingerprints: Mapping[str, Any],
        gender: str | None,
        state: str,
        policy_type: str,
        policy_start_date: str | None,
        email_opt_in: bool = False,
    ) -> None:
        self.personal: dict[str, Any] = {name: dict(value) for name, value in personal.items()}
        self.fingerprints: dict[str, str] = {name: value["commitment"] for name, value in fingerprints.items()}
        self.gender = None if gender is None else Gender(gender)
        self.state = state
        self.policy_type = PolicyType(policy_type)
        self.policy_start_date = None if policy_start_date is None else date.fromisoformat(policy_start_date)
        self.email_opt_in = bool(email_opt_in)

    @classmethod
    def register(
        cls,
        *,
        partner_id: str,
        partner_member_id: str,
        personal: Mapping[str, Any],
        fingerprints: Mapping[str, Any],
        gender: str | None,
        state: str,
        policy_type: str,
        policy_start_date: str | None,
        email_opt_in: bool = False,
    ) -> Member:
        """Register a member; ``personal`` maps each of :data:`PERSONAL_FIELDS` to a sealed value and
        ``fingerprints`` each to a commitment."""
        profile = _check_profile(personal, fingerprints, gender, state, policy_type, policy_start_date, email_opt_in)
        partner_id = check_partner_slug(partner_id)
        partner_member_id = check_identifier(partner_member_id, "partner_member_id", max_length=64)
        return cls._create(
            cls.Registered,
            id=member_id(partner_id, partner_member_id),
            partner_id=partner_id,
            partner_member_id=partner_member_id,
            **profile,
        )

    @classmethod
    def register_sealed(
        cls,
        aggregate_id: UUID,
        partner_id: str,
        partner_member_id: str,
        sealed: SealedFields,
        plain: Mapping[str, Any],
    ) -> Member:
        """:meth:`register` for the bulk path, without re-checking what was checked where it was made.

        The caller vouches for every argument: ``partner_id`` passed :func:`check_partner_slug`,
        ``partner_member_id`` and ``plain`` come from :meth:`MemberService.check` (a :class:`CheckedRecord`),
        ``aggregate_id`` is their :func:`member_id`, and ``sealed`` is what
        :meth:`~ledger_core.members.privacy.PersonalDataVault.seal_many` returned for the member's
        :data:`PERSONAL_FIELDS` (sealed values and commitments of the checked shape, fresh dicts owned by
        nobody else). The event recorded is the one :meth:`register` records for the same values.
        """
        personal, fingerprints = sealed
        return cls._create(
            cls.Registered,
            id=aggregate_id,
            partner_id=partner_id,
            partner_member_id=partner_member_id,
            personal=personal,
            fingerprints=fingerprints,
            gender=plain["gender"],
            state=plain["state"],
            policy_type=plain["policy_type"],
            policy_start_date=plain["policy_start_date"],
            email_opt_in=plain["email_opt_in"],
        )

    def update(
        self,
        *,
        personal: Mapping[str, Any],
        fingerprints: Mapping[str, Any],
        gender: str | None,
        state: str,
        policy_type: str,
        policy_start_date: str | None,
        email_opt_in: bool = False,
    ) -> list[str]:
        """Apply a newer eligibility record; return the names of changed fields (empty: nothing recorded)."""
        if self.erased:
            raise InvalidTransition("member", "erased", "update")
        profile = _check_profile(personal, fingerprints, gender, state, policy_type, policy_start_date, email_opt_in)
        changed = [
            name for name in PERSONAL_FIELDS if profile["fingerprints"][name]["commitment"] != self.fingerprints[name]
        ]
        for name in PERSONAL_FIELDS:
            if name not in changed:  # keep the existing ciphertext of unchanged fields
                profile["personal"][name] = self.personal[name]
        current = self.plain_fields()
        changed += [name for name in current if profile[name] != current[name]]
        if changed:
            self.trigger_event(self.Updated, changed=changed, **profile)
        return changed

    def record_eligibility_email(self, file_id: UUID) -> bool:
        """Claim the one "you're eligible" email of an opted-in member (seed 001 §2.2 step 5): True when this
        call recorded it; False when it was already recorded, the member did not opt in or was erased."""
        if self.erased or not self.email_opt_in or self.eligibility_emailed:
            return False
        self.trigger_event(self.EligibilityEmailed, file_id=str(file_id))
        return True

    def mark_erased(self, keys_destroyed: int) -> None:
        """Record that the member's keys were destroyed (crypto-shredded). Idempotent."""
        if not self.erased:
            self.trigger_event(self.PersonalDataErased, keys_destroyed=keys_destroyed)

    def plain_fields(self) -> dict[str, Any]:
        """The non-personal fields as event values."""
        return {
            "gender": None if self.gender is None else self.gender.value,
            "state": self.state,
            "policy_type": self.policy_type.value,
            "policy_start_date": None if self.policy_start_date is None else self.policy_start_date.isoformat(),
            "email_opt_in": self.email_opt_in,
        }


@dataclass(frozen=True, slots=True)
class MemberResult:
    member_id: UUID
    partner_member_id: str
    positions: tuple[int, ...]
    created: bool = False
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ErasureResult:
    member_id: UUID
    keys_destroyed: int
    positions: tuple[int, ...]


class MemberService:
    """Eligibility commands: seals personal data via the vault before anything reaches the aggregate.

    ``outcomes`` is told about every change that can move the member's outcome figures (registration and
    erasure): see :mod:`ledger_core.members.outcome_projection`.
    """

    def __init__(
        self, app: LedgerApplication, vault: PersonalDataVault, clock: Clock, outcomes: ChangeTracker | None = None
    ) -> None:
        self.app = app
        self.vault = vault
        self.clock = clock
        self.outcomes: ChangeTracker = outcomes or NoTracking()

    def get(self, partner_id: str, partner_member_id: str) -> Member:
        return self.app.load(Member, member_id(partner_id, partner_member_id), "member")

    def upsert(self, partner_id: str, record: EligibilityRecord) -> MemberResult:
        """Register or update a member from an eligibility record (an unchanged record records nothing).

        Plaintext checks (email shape, names, date of birth in the past and at most 130 years ago) raise
        :class:`InvalidCommand` naming the field but never echoing its value. A member under 18 today is
        not eligible (seed 001 §2.2: "for age validation—must be 18+"): :class:`NotEligible` with rule
        ``age_18_plus`` and field ``date_of_birth`` (again without the value); nothing is recorded, so the
        feed can skip the row and go on.
        """
        pmid = check_identifier(record.partner_member_id, "partner_member_id", max_length=64)
        existing = self.app.find(Member, member_id(partner_id, pmid))
        if existing is not None and existing.erased:
            raise InvalidTransition("member", "erased", "update")
        checked = self.check(record)
        subject = member_subject(partner_id, pmid)
        sealed, fingerprints = self.vault.seal_fields(subject, checked.personal)
        profile: dict[str, Any] = {"personal": sealed, "fingerprints": fingerprints, **checked.plain}
        if existing is None:
            member = Member.register(partner_id=partner_id, partner_member_id=pmid, **profile)
            with self.outcomes.registering(partner_id, pmid) as saved:
                positions = save(self.app, member)
                saved(positions[0])
            return MemberResult(member.id, pmid, positions, created=True)
        changed = existing.update(**profile)  # no field of an update moves the member's outcome figures
        return MemberResult(existing.id, pmid, save(self.app, existing), changed=tuple(changed))

    def check(self, record: EligibilityRecord) -> CheckedRecord:
        """Every rule :meth:`upsert` applies to a record before sealing it (:func:`check_record`, today by
        this service's clock)."""
        return check_record(record, today(self.clock))

    def reveal(self, partner_id: str, partner_member_id: str) -> dict[str, str]:
        """The member's personal fields in plaintext (internal use); :class:`PersonalDataErased` if shredded."""
        member = self.get(partner_id, partner_member_id)
        subject = member_subject(partner_id, member.partner_member_id)
        return {name: self.vault.open(subject, name, member.personal[name]) for name in PERSONAL_FIELDS}

    def erase(self, partner_id: str, partner_member_id: str) -> ErasureResult:
        """Destroy the member's keys, then record the erasure (in that order: the log never over-claims).

        The member's outcome figures are withdrawn first (inside the tracked block, while the key can still
        open their result), so an erased member counts nowhere. Erasing again records nothing.
        """
        member = self.get(partner_id, partner_member_id)
        with self.outcomes.tracking(partner_id, member.partner_member_id):
            destroyed = self.vault.erase(member_subject(partner_id, member.partner_member_id))
            member.mark_erased(destroyed)
            positions = save(self.app, member)
        return ErasureResult(member.id, destroyed, positions)
