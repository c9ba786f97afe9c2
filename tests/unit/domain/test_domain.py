"""The registry of all aggregates, and every event type through the real mapper and back."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson

from ledger_core.accounts.account import UserAccount, account_subject
from ledger_core.accounts.identity import IdentityProviderKind, StaffRole, UserKind
from ledger_core.accounts.providers import IdentityProvider, PartnerSso
from ledger_core.claims.batch.claims_file import ClaimsFile, LineResult
from ledger_core.claims.batch.formats import BatchFileRejection, LineOutcome
from ledger_core.claims.claim import Claim
from ledger_core.claims.documents import Document
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.canonical import canonical_json
from ledger_core.engine.mapper import DraftStoredEvent
from ledger_core.members.enrollments import Enrollment
from ledger_core.members.feeds.deliveries import FeedDeliveries
from ledger_core.members.feeds.eligibility_file import EligibilityFile
from ledger_core.members.feeds.formats import FeedKind, FileRejection, RowProblem, RowRefusal
from ledger_core.members.member import Member
from ledger_core.members.member_record import PERSONAL_FIELDS
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.members.reminders import Reminder
from ledger_core.members.subscriptions import Subscription
from ledger_core.partners.access import WebhookSettings, secret_sha256
from ledger_core.partners.embedding import PartnerEmbedding
from ledger_core.partners.partner import Partner
from ledger_core.partners.theme import FontStack, PartnerTheme, ThemeSettings

from .fakes import MAPPER, REGISTRY, from_entry, replay, state, to_entry

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "northwestern_mutual"
HOOK: WebhookSettings = {"url": "https://p.example/hook", "event_types": ["claim.verified"], "secret_id": "whsec_1"}
HEADER = {"originator_id", "originator_version", "timestamp", "originator_topic", "partner_id"}


def every_aggregate(vault: PersonalDataVault) -> list[Any]:
    """Aggregates whose pending events cover every event type."""
    partner = Partner.register(partner_id=P, name="NM", category="insurance_carrier", tier="standard", scopes=[])
    partner.change_tier("enterprise")
    partner.set_scopes(["claims:read"])
    partner.issue_api_key(key_id="pk_0001", secret_sha256=secret_sha256("a"), at=T0)
    partner.rotate_api_key(old_key_id="pk_0001", key_id="pk_0002", secret_sha256=secret_sha256("b"), at=T0)
    partner.revoke_api_key(key_id="pk_0001", at=T0, reason="rotated")
    partner.set_key_max_age(30)
    assert partner.warn_key_expiring("pk_0002", T0 + timedelta(days=25))
    partner.set_client_secret(secret_hash="scrypt$16384$8$1$c2FsdA$aGFzaA", at=T0)
    partner.add_webhook("ep1", **HOOK)
    partner.update_webhook("ep1", **(HOOK | {"secret_id": "whsec_2"}))
    partner.rotate_webhook_secret("ep1", secret_id="whsec_3", at=T0)
    partner.disable_webhook("ep1", "gone")
    partner.enable_webhook("ep1")
    partner.remove_webhook("ep1")
    partner.set_ip_allowlist(["203.0.113.0/24"])
    partner.suspend("review")
    partner.reinstate()

    documents = [{"type": "pdf", "hash": "ab" * 32, "metadata": {"k": "v"}}]
    claim = Claim.submit(
        partner_id=P,
        partner_claim_id="C-1",
        claim_type="auto",
        claim_amount="10.5",
        currency="EUR",
        submitted_at="2026-01-15T12:00:00Z",
        documents=documents,
        verification_level="full",
    )
    claim.change_status("pending")
    claim.record_verification(
        status="flagged",
        risk_score=70,
        risk_level="high",
        factors=["f"],
        explanation="e",
        rule_set_version="r1",
        inputs={"nested": {"list": [1, "two", None, True]}},
    )
    claim.resolve_review(decision="verified", reviewer="analyst", notes="ok")

    document = Document.register(
        partner_id=P, sha256="cd" * 32, document_type="photo", media_type="image/png", size_bytes=1, metadata={}
    )

    subject = "member:x"
    plain = {"email": "a@b.co", "first_name": "A", "last_name": "B", "date_of_birth": "1980-01-01"}
    profile: dict[str, Any] = {
        "personal": {f: vault.seal(subject, f, plain[f]) for f in PERSONAL_FIELDS},
        "fingerprints": {f: vault.commit(subject, f, plain[f]) for f in PERSONAL_FIELDS},
        "gender": None,
        "state": "IA",
        "policy_type": "Health",
        "policy_start_date": None,
    }
    member = Member.register(partner_id=P, partner_member_id="m1", **profile)
    member.update(**{**profile, "state": "TX", "email_opt_in": True})
    member.record_eligibility_email(uuid4())
    member.mark_erased(1)

    enrollment = Enrollment.enroll(
        partner_id=P, partner_member_id="m1", enrollment_date="2026-01-10", date_of_birth=date(1980, 1, 1), state="TX"
    )
    enrollment.order_kit("2026-01-11")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    enrollment.deliver_result("2026-01-22", vault.seal(subject, "result_type", "ZZ"))
    enrollment.schedule_counseling("2026-01-29T15:00:00Z")
    enrollment.record_nps(7, "overall")
    enrollment.report_action(
        vault.seal(subject, "action", "doctor_visit"), vault.commit(subject, "action", "doctor_visit")
    )

    subscription = Subscription.start(
        partner_id=P, partner_member_id="m1", start_date="2026-02-01", amount=50, currency="USD", frequency="annual"
    )
    subscription.cancel(cancellation_date="2026-03-01", reason=None)
    subscription.restart(start_date="2026-04-01", amount="30", currency="USD", frequency="monthly")

    reminder = Reminder.queue(
        reminder_id=uuid4(),
        partner_id=P,
        partner_member_id="m1",
        reminder_type="kit",
        message=vault.seal(subject, "reminder_message", "Return your kit"),
        message_commitment=vault.commit(subject, "reminder_message", "Return your kit"),
        queued_at=T0,
        estimated_send_time=T0,
    )
    reminder.mark_sent(T0 + timedelta(minutes=1))
    other_reminder = Reminder.queue(
        reminder_id=uuid4(),
        partner_id=P,
        partner_member_id="m1",
        reminder_type="sample",
        message=vault.seal(subject, "reminder_message", "Mail your sample"),
        message_commitment=vault.commit(subject, "reminder_message", "Mail your sample"),
        queued_at=T0,
        estimated_send_time=T0,
    )
    other_reminder.cancel("not needed")
    loaded = EligibilityFile.receive(P, "eligibility_northwestern_mutual_20260115.csv", "ab" * 32, 120, 2)
    problem = RowProblem(2, 3, None, RowRefusal.INVALID, "state", "state must be a U.S. state or territory code")
    loaded.record_batch(rows_through=2, created=1, updated=0, unchanged=0, member_events=1, problems=[problem])
    loaded.complete(alert_share=0.05)
    rejected = EligibilityFile.reject(
        P, "eligibility_northwestern_mutual_20260116.csv", "cd" * 32, 9, FileRejection.HEADER, "wrong header", 1
    )
    deliveries = FeedDeliveries.open(P, FeedKind.ENROLLMENT)
    deliveries.deliver(
        period="2026-01-16",
        file_name="enrollment_northwestern_mutual_20260116.csv",
        since_position=0,
        through_position=10,
        rows=1,
        full=False,
    )
    return [
        partner,
        claim,
        document,
        member,
        enrollment,
        subscription,
        reminder,
        other_reminder,
        loaded,
        rejected,
        deliveries,
        *accounts(vault),
        *claims_files(),
        theme(),
        embedding(),
    ]


def claims_files() -> list[Any]:
    """A claims file through every event of the batch context, and one rejected whole."""
    loaded = ClaimsFile.receive(P, "claims_northwestern_mutual_20260115.jsonl", "ef" * 32, 300, "standard")
    loaded.record_chunk(
        2,
        [
            LineResult(1, LineOutcome.IMPORTED, "C-1", str(uuid4())),
            LineResult(2, LineOutcome.INVALID, "C-2", None, "claimAmount", "claimAmount must be greater than zero"),
        ],
    )
    loaded.complete(2)
    rejected = ClaimsFile.reject(
        P, "claims_northwestern_mutual_20260116.csv", "01" * 32, 9, BatchFileRejection.HEADER, "wrong header", 1
    )
    return [loaded, rejected]


def theme() -> PartnerTheme:
    """A partner theme set, changed and cleared."""
    settings = ThemeSettings("#003da5", "#ffffff", "NM", FontStack.SYSTEM, "ab" * 32, "image/png", None)
    aggregate = PartnerTheme.start(P, settings)
    aggregate.change(ThemeSettings("#7a1f1f", "#ffffff", None, FontStack.HUMANIST))
    aggregate.clear()
    return aggregate


def embedding() -> PartnerEmbedding:
    """A partner's portal origins, set then replaced."""
    registered = PartnerEmbedding._create(PartnerEmbedding.Opened, id=derive_id("embedding", P), partner_id=P)
    registered.set_origins(["https://benefits.example.com"])
    registered.set_origins(["https://benefits.example.com", "http://localhost:8080"])
    return registered


def accounts(vault: PersonalDataVault) -> list[Any]:
    """A partner's identity providers and a staff account through every event of the accounts context."""
    sso = PartnerSso._create(PartnerSso.Opened, id=derive_id("partner_sso", P), partner_id=P)
    settings = {"entity_id": "https://idp.example", "sso_url": "https://idp.example/sso", "certificates": ["pem"]}
    sso.configure(IdentityProvider(P, "okta", IdentityProviderKind.SAML, UserKind.STAFF, StaffRole.USER, settings))
    sso.remove("okta")
    subject = account_subject(uuid4())
    sealed, commitments = vault.seal_fields(subject, {"email": "a@b.co", "first_name": "A", "last_name": "B"})
    account = UserAccount.provision(
        partner_id=P,
        user_kind=UserKind.STAFF,
        partner_user_id="emp-1",
        provider_id="okta",
        role=StaffRole.USER,
        personal=sealed,
        fingerprints=commitments,
    )
    changed, new_commitments = vault.seal_fields(subject, {"last_name": "C"})
    account.update_attributes(provider_id="okta", role=StaffRole.ADMIN, personal=changed, fingerprints=new_commitments)
    account.deactivate("left", "sync")
    account.reactivate("operations")
    return [sso, account]


def test_registry_names_are_stable_and_unique() -> None:
    """Every aggregate registers; event types are '<aggregate>.<past_tense>' and unique."""
    assert {a.AGGREGATE_TYPE for a in ALL_AGGREGATES} == {
        "Partner",
        "Claim",
        "Document",
        "Member",
        "Enrollment",
        "Subscription",
        "Reminder",
        "EligibilityFile",
        "FeedDeliveries",
        "Sso",
        "Account",
        "ClaimsFile",
        "Theme",
        "Embedding",
    }
    assert len(REGISTRY.event_classes) == 62  # 36 + partner 3 + feeds 7 + accounts 7 + claims 4 + theme 3 + embedding 2
    for name, cls in REGISTRY.event_classes.items():
        prefix = REGISTRY.aggregate_of[cls].AGGREGATE_TYPE.lower()
        assert re.fullmatch(rf"{prefix}\.[a-z_]+", name), name


def test_every_event_type_maps_and_replays(vault: PersonalDataVault) -> None:
    """Each event becomes a JSON-native payload, survives the envelope bytes and replays to equal state."""
    seen: set[str] = set()
    for aggregate in every_aggregate(vault):
        events = list(aggregate.collect_events())
        for event in events:
            stored = MAPPER.to_stored_event(event)
            assert isinstance(stored, DraftStoredEvent)
            payload = stored.draft.payload
            assert isinstance(payload, dict)  # the mapper's drafts carry values (bulk paths encode theirs)
            assert stored.draft.partner_id == P
            assert not HEADER & set(payload)
            assert orjson.loads(canonical_json(payload)) == payload
            back = from_entry(to_entry(event))
            assert type(back) is type(event)
            assert {k: v for k, v in vars(back).items() if k != "timestamp"} == {
                k: v for k, v in vars(event).items() if k != "timestamp"
            }
            seen.add(type(event).EVENT_TYPE)
        assert state(replay(events)) == state(aggregate)
    assert seen == set(REGISTRY.event_classes)


def test_no_plaintext_personal_data_in_any_payload(vault: PersonalDataVault) -> None:
    """Names, email, date of birth (or any date derived from it), the genetic result and health actions never
    appear in any payload."""
    text = b"".join(
        canonical_json(MAPPER.to_stored_event(event).draft.payload)  # type: ignore[attr-defined]
        for aggregate in every_aggregate(vault)
        for event in aggregate.collect_events()
    )
    secrets = (
        b'"a@b.co"',
        b'"A"',
        b'"B"',
        b'"1980-01-01"',
        b'"1998-01-01"',
        b'"ZZ"',
        b"doctor_visit",
        b"your kit",
        b"your sample",
    )
    for secret in secrets:
        assert secret not in text
    assert b"adult_on" not in text
