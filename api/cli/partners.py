"""``ledger partners`` and ``ledger operators``: create partners (and operations principals) with
credentials, rotate and revoke keys, reissue lost credentials (``rotate-secret``), set or clear a partner's IP
allowlist and its portal origins, show a partner; ``partners theme`` sets a partner's white-label theme.

``create`` and ``rotate-key`` print secrets exactly once (JSON on stdout); the ledger records only
their SHA-256 (and API secrets are re-derived from the deployment secret, so use the same data
directory or ``LEDGER_DEPLOYMENT_SECRET`` as the server). ``register(app)`` adds the group.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from api.cli.partner_theme import theme_app
from api.security.credentials import DEFAULT_SCOPES, CredentialService
from api.security.secrets import load_deployment_secret

partners_app = typer.Typer(no_args_is_help=True, help="Partners and their credentials.")
operators_app = typer.Typer(no_args_is_help=True, help="Operations principals (the operations scope).")
partners_app.add_typer(theme_app, name="theme")  # ledger partners theme set|show|clear (api/cli/partner_theme.py)


def slug(name: str) -> str:
    """A partner id from a display name: ``"ACME Insurance"`` -> ``acme_insurance``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:64]


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


@partners_app.command("create")
def create(
    name: str,
    tier: Annotated[str, typer.Option(help="sandbox, standard or enterprise (seed 000 section 4.3).")] = "sandbox",
    category: Annotated[
        str, typer.Option(help="insurance_carrier, tpa, claims_software, document_provider, fraud_detection.")
    ] = "claims_software",
    partner_id: Annotated[str | None, typer.Option("--partner-id", help="Default: NAME as a slug.")] = None,
    scopes: Annotated[
        list[str] | None, typer.Option("--scope", help="Repeat; default: claims, documents, audit.")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a partner and print partnerId, clientId, clientSecret, apiKey and apiSecret (shown once)."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        service = CredentialService(ledger, load_deployment_secret(data_dir))
        credentials = service.create_partner(
            partner_id or slug(name), name, tier=tier, category=category, scopes=scopes or DEFAULT_SCOPES
        )
    _echo(credentials.to_json())


@operators_app.command("create")
def create_operator(
    name: str,
    operator_id: Annotated[str | None, typer.Option("--operator-id", help="Default: NAME as a slug.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Register an operations principal (scope ``operations`` only) and print its credentials once.

    Rotate, revoke and show it with the ``partners`` commands (same credentials, same records).
    """
    with open_ledger(existing(data_dir, database_url)) as ledger:
        service = CredentialService(ledger, load_deployment_secret(data_dir))
        credentials = service.create_operator(operator_id or slug(name), name)
    _echo(credentials.to_json())


@partners_app.command("rotate-key")
def rotate_key(
    partner_id: str,
    key_id: Annotated[str | None, typer.Option("--key", help="Key to replace (default: the newest active).")] = None,
    client_secret: Annotated[
        bool, typer.Option("--client-secret", help="Replace the OAuth client secret instead (no overlap).")
    ] = False,
    overlap_hours: Annotated[float, typer.Option(min=0, max=720, help="Hours the old key keeps working.")] = 24,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a new API key (the old one works until the overlap ends) or client secret. Prints it once."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        service = CredentialService(ledger, load_deployment_secret(data_dir))
        if client_secret:
            result = service.rotate_client_secret(partner_id)
        else:
            result = service.rotate(partner_id, key_id, overlap=timedelta(hours=overlap_hours))
    _echo(result)


@partners_app.command("rotate-secret")
def rotate_secret(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Lost credentials (e.g. the sandbox's, printed once at first start): issue a new client secret and a
    new API key and secret, shown once; the old ones stop working at once."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        service = CredentialService(ledger, load_deployment_secret(data_dir))
        credentials = service.reissue(partner_id)
    _echo({**credentials, "note": "shown once: store these now, the ledger keeps only hashes"})


@partners_app.command("revoke-key")
def revoke_key(
    partner_id: str,
    key_id: str,
    reason: Annotated[str, typer.Option(help="Recorded in the log.")] = "revoked by operator",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key at once (the server notices within a second)."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        ledger.partners.revoke_api_key(partner_id, key_id, reason)
    _echo({"partnerId": partner_id, "revoked": key_id})


@partners_app.command("key-max-age")
def key_max_age(
    partner_id: str,
    days: Annotated[
        str, typer.Argument(help="Maximum API key age in days (1 to 3650), or 'none' to remove the limit.")
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Set the partner's API key rotation schedule: older keys are refused (AUTH_KEY_EXPIRED); see
    docs/authentication.md. The same as ``PUT /api/v1/operations/partners/{partner}/api-key-policy``."""
    max_age = None if days.strip().lower() == "none" else _whole_days(days)
    with open_ledger(existing(data_dir, database_url)) as ledger:
        result = ledger.partners.set_key_max_age(partner_id, max_age)
    _echo({"partnerId": partner_id, "maxAgeDays": max_age, "positions": list(result.positions)})


def _whole_days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter("days must be a whole number or 'none'", param_hint="DAYS") from None


@partners_app.command("show")
def show(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """A partner's tier, scopes, status and keys (ids and states only; no secret is stored)."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        partner = ledger.partners.get(partner_id)
    now = datetime.now(UTC)
    _echo(
        {
            "partnerId": partner.partner_id,
            "name": partner.name,
            "clientId": partner.client_id,
            "tier": partner.tier.value,
            "category": partner.category.value,
            "scopes": list(partner.scopes),
            "status": partner.status.value,
            "ipAllowlist": list(partner.ip_allowlist),
            "keyMaxAgeDays": partner.key_max_age_days,
            "keys": [
                {"keyId": k.key_id, "issuedAt": k.issued_at, "expiresAt": k.expires_at, "status": k.status(now)}
                for k in partner.api_keys.values()
            ],
        }
    )


@partners_app.command("allow-ips")
def allow_ips(
    partner_id: str,
    cidrs: Annotated[list[str], typer.Argument(help="IPv4/IPv6 networks, e.g. 203.0.113.0/24 2001:db8::/48.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Set the partner's IP allowlist (replacing it): requests from elsewhere get 403 IP_NOT_ALLOWED."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        ledger.partners.set_ip_allowlist(partner_id, cidrs)
        allowed = list(ledger.partners.get(partner_id).ip_allowlist)
    _echo({"partnerId": partner_id, "ipAllowlist": allowed})


@partners_app.command("clear-ips")
def clear_ips(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Remove the partner's IP allowlist: requests are accepted from any address again."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        ledger.partners.set_ip_allowlist(partner_id, [])
    _echo({"partnerId": partner_id, "ipAllowlist": []})


@partners_app.command("portal-origins")
def portal_origins(
    partner_id: str,
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="An origin allowed to embed the portal (https://host[:port]); repeat it."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every origin: no other site may embed it.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Show, set (replacing them) or clear the origins allowed to embed the partner's member portal
    (docs/portal.md): they become the portal's CSP frame-ancestors, CORS origins and postMessage targets."""
    if clear and origin:
        raise typer.BadParameter("give --origin or --clear, not both", param_hint="--clear")
    with open_ledger(existing(data_dir, database_url)) as ledger:
        if clear or origin:
            found = ledger.embedding.set_origins(partner_id, [] if clear else origin or [])
        else:
            found = ledger.embedding.origins(partner_id)
    _echo({"partnerId": found.partner_id, "portalOrigins": list(found.origins)})


def register(app: typer.Typer) -> None:
    """Add ``partners`` and ``operators`` to the ``ledger`` application."""
    app.add_typer(partners_app, name="partners")
    app.add_typer(operators_app, name="operators")
