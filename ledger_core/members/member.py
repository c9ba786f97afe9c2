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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.engine.ports import Clock
from ledger_core.members.errors import NotEligible
from ledger_core.members.outcomes import ChangeTracker, NoTracking
from ledger_core.members.privacy import PersonalDataVault, SealedFields, check_commitment, check_sealed
from ledger_core.shared.service_support import save, today
from ledger_core.shared.validation import (
    check_identifier,
    check_partner_slug,
    check_text,
    parse_choice,
    parse_date,
    parse_optional_date,
)
from ledger_core.shared.vocabulary import US_STATE_CODES, Gender, PolicyType

PERSONAL_FIELDS = ("email", "first_name", "last_name", "date_of_birth")
PLAIN_FIELDS = ("gender", "state", "policy_type", "policy_start_date", "email_opt_in")
"""The member's fields recorded as they are (:meth:`Member.plain_fields`)."""
MAX_AGE_YEARS = 130
ADULT_AGE_YEARS = 18
_OPT_IN = {"y": True, "true": True, "1": True, "n": False, "false": False, "0": False, "": False}
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,252}\.[^@\s.]{1,63}")


def member_id(partner_id: str, partner_member_id: str) -> UUID:
    return derive_id("member", partner_id, partner_member_id)


def member_subject(partner_id: str, partner_member_id: str) -> str:
    """The privacy subject (key owner) for a member: erasing it shreds all of the member's personal data."""
    return subject_of(member_id(partner_id, partner_member_id))


def subject_of(member: UUID) -> str:
    """:func:`member_subject` from the member's id."""
    return f"member:{member}"


def add_years(day: date, years: int) -> date:
    """``day`` plus ``years``; 29 February maps to 1 March (the later date: never adult too early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def is_adult(date_of_birth: date, on: date) -> bool:
    """True iff someone born on ``date_of_birth`` is 18 or older on ``on`` (born 29 February: from 1 March)."""
    return on >= add_years(date_of_birth, ADULT_AGE_YEARS)


def parse_opt_in(value: str | bool | None) -> bool:
    """Our ``email_opt_in`` extension of the seed's record (docs/feeds.md): ``Y``/``N``, ``true``/``false``,
    ``1``/``0`` (any case, surrounding blanks ignored); empty or absent is not opted in."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in _OPT_IN:
        return _OPT_IN[text]
    raise InvalidCommand("email_opt_in must be Y/N, true/false or 1/0", field="email_opt_in")


def check_plain_profile(
    gender: str | None, state: str, policy_type: str, policy_start_date: str | None, email_opt_in: bool = False
) -> dict[str, Any]:
    """The non-personal fields of an eligibility record, normalized as event values (seed 001 §2.2: M/F/O
    gender, a 2-letter U.S. state, Life/Health/Disability, an optional ``YYYY-MM-DD`` policy start date;
    our extension: the member's ``email_opt_in`` flag, a plain boolean that is not personal data)."""
    if not isinstance(state, str) or state not in US_STATE_CODES:
        raise InvalidCommand("state must be a U.S. state or territory code", field="state", value=str(state)[:8])
    start = parse_optional_date(policy_start_date, "policy_start_date")
    return {
        "gender": None if gender in (None, "") else parse_choice(Gender, gender, "gender").value,
        "state": state,
        "policy_type": parse_choice(PolicyType, policy_type, "policy_type").value,
        "policy_start_date": None if start is None else start.isoformat(),
        "email_opt_in": bool(email_opt_in),
    }


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
class EligibilityRecord:
    """One eligibility-feed row in plaintext (seed 001 §2.2); empty optional CSV cells become None."""

    partner_member_id: str
    email: str
    first_name: str
    last_name: str
    date_of_birth: str
    state: str
    policy_type: str
    gender: str | None = None
    policy_start_date: str | None = None
    email_opt_in: bool = False
    """Our extension (docs/feeds.md): the member agreed to emails; absent means not."""

    @classmethod
    def from_row(cls, row: Mapping[str, str | None]) -> EligibilityRecord:
        """Build from a CSV/JSON row (extra columns are ignored; a missing required column is an error)."""
        required = ("partner_member_id", "email", "first_name", "last_name", "date_of_birth", "state", "policy_type")
        missing = [name for name in required if not row.get(name)]
        if missing:
            raise InvalidCommand(f"missing required fields {missing}", field=missing[0])
        return cls(
            partner_member_id=str(row["partner_member_id"]),
            email=str(row["email"]),
            first_name=str(row["first_name"]),
            last_name=str(row["last_name"]),
            date_of_birth=str(row["date_of_birth"]),
            state=str(row["state"]),
            policy_type=str(row["policy_type"]),
            gender=row.get("gender") or None,
            policy_start_date=row.get("policy_start_date") or None,
            email_opt_in=parse_opt_in(row.get("email_opt_in")),
        )


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """An eligibility record that passed :meth:`MemberService.check`: the member id, the personal fields in
    plaintext (to be sealed, never recorded as such) and the plain fields as event values."""

    partner_member_id: str
    personal: dict[str, str]
    plain: dict[str, Any]


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


def check_record(record: EligibilityRecord, on: date) -> CheckedRecord:
    """Every rule :meth:`MemberService.upsert` applies to a record before sealing it, in the same order: member
    id, plaintext personal fields, 18+ on ``on`` (today), then the plain fields (state, gender, policy type,
    start date). A pure function: the eligibility feed checks its rows with it, in worker processes too.

    Raises what :meth:`MemberService.upsert` raises (:class:`InvalidCommand` naming the field,
    :class:`NotEligible`), never echoing a personal value.
    """
    pmid = check_identifier(record.partner_member_id, "partner_member_id", max_length=64)
    personal = _check_plaintext(record, on)
    if not is_adult(date.fromisoformat(personal["date_of_birth"]), on):
        raise NotEligible(pmid, "age_18_plus", "member is under 18", field="date_of_birth", on=on.isoformat())
    plain = check_plain_profile(
        record.gender, record.state, record.policy_type, record.policy_start_date, record.email_opt_in
    )
    return CheckedRecord(pmid, {name: personal[name] for name in PERSONAL_FIELDS}, plain)


def _check_plaintext(record: EligibilityRecord, on: date) -> dict[str, str]:
    email = check_text(record.email, "email", max_length=254)
    if not _EMAIL.fullmatch(email):
        raise InvalidCommand("email is not an email address", field="email")
    born = parse_date_quietly(record.date_of_birth)
    if born > on or born < add_years(on, -MAX_AGE_YEARS):
        raise InvalidCommand("date_of_birth is out of range", field="date_of_birth")
    return {
        "email": email,
        "first_name": check_text(record.first_name, "first_name", max_length=100),
        "last_name": check_text(record.last_name, "last_name", max_length=100),
        "date_of_birth": born.isoformat(),
    }


def parse_date_quietly(value: str) -> date:
    """:func:`parse_date` for date of birth, without echoing the value in the error."""
    try:
        return parse_date(value, "date_of_birth")
    except InvalidCommand:
        raise InvalidCommand("date_of_birth must be a date YYYY-MM-DD", field="date_of_birth") from None
