"""Partner credentials on the Partner aggregate: client secrets and API keys, lookups, rotation, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.security.credentials import (
    CredentialService,
    PartnerCredentials,
    PartnerDirectory,
    api_key_record,
    partner_id_of_client,
)
from api.security.secrets import derive_api_secret
from ledger_core.engine.errors import NotFound
from ledger_core.ledger import Ledger
from ledger_core.partners.access import secret_sha256


def directory(ledger: Ledger) -> PartnerDirectory:
    return PartnerDirectory(ledger, lambda: datetime.now(UTC), ttl=0)


def test_created_partner_has_a_client_secret_and_a_derived_api_secret(
    ledger: Ledger, acme: PartnerCredentials, deployment_secret: bytes
) -> None:
    """The ledger holds the client secret's scrypt hash and the API secret's SHA-256; the latter is re-derivable."""
    assert (acme.partner_id, acme.client_id, acme.tier) == ("acme", "partner_acme", "standard")
    assert acme.api_secret == derive_api_secret(deployment_secret, acme.api_key)
    partner = ledger.partners.get("acme")
    assert [k.secret_sha256 for k in partner.api_keys.values()] == [secret_sha256(acme.api_secret)]
    assert partner.client_secret_hash is not None
    assert partner.client_secret_hash.startswith("scrypt$")
    log = b"".join(row.entry for row in ledger.app.log_reader.read_rows(0, 100))
    assert acme.client_secret.encode() not in log
    assert acme.api_secret.encode() not in log


def test_client_authentication(ledger: Ledger, acme: PartnerCredentials) -> None:
    """Only the right client id with its active client secret authenticates, and only while active."""
    found = directory(ledger)
    assert found.authenticate_client("partner_acme", acme.client_secret) is not None
    assert found.authenticate_client("partner_acme", acme.client_secret + "x") is None
    assert found.authenticate_client("partner_acme", acme.api_secret) is None  # an API secret is not a client secret
    assert found.authenticate_client("partner_other", acme.client_secret) is None
    assert found.authenticate_client("acme", acme.client_secret) is None
    ledger.partners.suspend("acme", "unpaid")
    assert found.authenticate_client("partner_acme", acme.client_secret) is None


def test_api_key_records(ledger: Ledger, acme: PartnerCredentials) -> None:
    """A pk_ key of the partner is found; client-secret ids, unknown keys and other partners are not."""
    found = directory(ledger)
    record = found.api_key("acme", acme.api_key)
    assert record is not None
    assert (record.partner_id, record.active, record.expires_at) == ("acme", True, None)
    assert found.api_key("acme", "pk_0000000000000000") is None
    assert found.api_key("nobody", acme.api_key) is None
    ledger.partners.revoke_api_key("acme", acme.api_key, "leaked")
    revoked = found.api_key("acme", acme.api_key)
    assert revoked is not None
    assert revoked.active is False


def test_the_cache_answers_without_reading_only_what_it_holds(ledger: Ledger, acme: PartnerCredentials) -> None:
    """``cached`` reads nothing: a partner read within the ttl (or known to be missing) is there, with the
    same key records as a read; anything else, or anything older, is not."""
    found = PartnerDirectory(ledger, lambda: datetime.now(UTC), ttl=60)
    assert found.cached("acme") == (False, None)
    partner = found.partner("acme")
    known, cached = found.cached("acme")
    assert known
    assert cached is partner
    assert api_key_record("acme", cached, acme.api_key) == found.api_key("acme", acme.api_key)
    assert found.partner("nobody") is None
    assert found.cached("nobody") == (True, None)
    stale = directory(ledger)  # ttl 0: nothing is ever fresh
    stale.partner("acme")
    assert stale.cached("acme") == (False, None)


def test_rotation_keeps_the_old_key_for_the_overlap(
    ledger: Ledger, credentials: CredentialService, acme: PartnerCredentials, deployment_secret: bytes
) -> None:
    """rotate issues a new pk_ key and the old one expires after the overlap; a new client secret replaces the old."""
    rotated = credentials.rotate("acme", overlap=timedelta(hours=2))
    assert rotated["replacedKey"] == acme.api_key
    assert rotated["apiSecret"] == derive_api_secret(deployment_secret, rotated["apiKey"])
    old = directory(ledger).api_key("acme", acme.api_key)
    assert old is not None
    assert old.expires_at is not None
    assert timedelta(hours=1) < old.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    client = credentials.rotate_client_secret("acme")
    found = directory(ledger)
    assert found.authenticate_client("partner_acme", client["clientSecret"]) is not None
    assert found.authenticate_client("partner_acme", acme.client_secret) is None
    with pytest.raises(NotFound):
        credentials.rotate("acme", "pk_does_not_exist")


def test_client_ids_name_their_partner() -> None:
    """partner_<slug> -> slug; anything else is not a client id."""
    assert partner_id_of_client("partner_acme_insurance") == "acme_insurance"
    assert partner_id_of_client("acme") is None
