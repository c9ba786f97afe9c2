"""The Python SDK of the Proveniq Ledger HTTP API: a partner's client, usable without the server.

Installed alone (``pip install ./api/client``, see its ``pyproject.toml`` and ``README.md``) it is the
package ``proveniq_ledger_client`` and needs httpx, cryptography and msgspec only; in this repository
it is ``api.client``. Import from its modules: ``ledger_client`` (``LedgerClient``, ``LedgerApiError``)
and ``webhooks`` (``verify_webhook``). This file imports nothing, so the server, which uses the SDK's
request signing (``signing``) and wire shapes (``schemas``), does not load httpx with them.

The SDK imports nothing of the server (an import-linter contract); offline proof checks use ``proofs``
and webhook checks use ``proofs.webhooks``; its wheel ships ``proofs`` beside it.
"""
