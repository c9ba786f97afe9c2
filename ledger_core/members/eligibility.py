"""Eligibility decisions (seed 001 §3.3 endpoint 1, §2.2 field rules).

A policyholder is eligible when all of these hold, checked in this order:

1. ``member_present``: the member is in the partner's eligibility data and was not erased (an erased
   member is forgotten: reported exactly like an unknown one, :class:`NotFound`);
2. ``state_allowed``: their state is not on the deployment's restricted list (seed §2.2: "some states
   restrict genetic testing"; the list is configuration, empty by default);
3. ``age_18_plus``: they are 18 or older today (the sealed date of birth is opened for the check and
   nothing derived from it is kept; enrolling checks the age again on the enrollment date).

An eligible member who already enrolled stays eligible (``enrolled`` is set and no enrollment link is
due). Reasons are fixed sentences that never contain personal data.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import NotFound
from ledger_core.engine.ports import Clock
from ledger_core.members.enrollments import Enrollment, enrollment_id
from ledger_core.members.member import Member, member_id, member_subject
from ledger_core.members.member_record import is_adult
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.shared.service_support import today
from ledger_core.shared.validation import check_identifier

ELIGIBLE_REASON = "Policyholder meets eligibility criteria (age 18+, state allows genetic testing)"
ENROLLED_REASON = "Policyholder already enrolled"
NOT_FOUND_REASON = "Policyholder not found in eligibility feed"
STATE_REASON = "Genetic testing is not offered in the policyholder's state"
AGE_REASON = "Policyholder is under 18"


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    """The answer for one member: ``rule`` names the first failing rule (None when eligible)."""

    partner_member_id: str
    eligible: bool
    reason: str
    rule: str | None = None
    enrolled: bool = False


class EligibilityService:
    """Reads only: decides eligibility from the member's record and the deployment's state allow-list."""

    def __init__(
        self,
        app: LedgerApplication,
        vault: PersonalDataVault,
        clock: Clock,
        restricted_states: Collection[str] = frozenset(),
    ) -> None:
        self.app = app
        self.vault = vault
        self.clock = clock
        self.restricted_states = frozenset(restricted_states)

    def check(self, partner_id: str, partner_member_id: str, on: date | None = None) -> EligibilityDecision:
        """Decide for the member (today, or ``on``); :class:`NotFound` (kind ``member``) when absent or erased."""
        pmid = check_identifier(partner_member_id, "partner_member_id", max_length=64)
        member = self.app.find(Member, member_id(partner_id, pmid))
        if member is None or member.erased:
            raise NotFound("member", pmid)
        if member.state in self.restricted_states:
            return EligibilityDecision(pmid, False, STATE_REASON, "state_allowed")
        subject = member_subject(partner_id, pmid)
        born = date.fromisoformat(self.vault.open(subject, "date_of_birth", member.personal["date_of_birth"]))
        if not is_adult(born, on or today(self.clock)):
            return EligibilityDecision(pmid, False, AGE_REASON, "age_18_plus")
        if self.app.find(Enrollment, enrollment_id(partner_id, pmid)) is not None:
            return EligibilityDecision(pmid, True, ENROLLED_REASON, enrolled=True)
        return EligibilityDecision(pmid, True, ELIGIBLE_REASON)
