"""The small first-contact fixes of issue 19 (item 10) stay fixed: license metadata in the SPDX form,
docs/cli.md on `make serve`, docs/http.md's metrics route labels, and the webhook receiver's schemes."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from adapters.webhook_management import check_target
from api.app import create_app
from api.settings import Settings
from ledger_core.engine.errors import InvalidCommand

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("pyproject", "backend"), [("pyproject.toml", "setuptools>=77"), ("api/client/pyproject.toml", "hatchling>=1.27")]
)
def test_license_is_an_spdx_expression(pyproject: str, backend: str) -> None:
    """``license = "..."`` (PEP 639), not the deprecated table that warns on every install; the build
    backend is recent enough to accept it."""
    config = tomllib.loads((ROOT / pyproject).read_text(encoding="utf-8"))
    assert isinstance(config["project"]["license"], str)
    assert any(requirement.startswith(backend) for requirement in config["build-system"]["requires"])


def test_cli_doc_says_what_make_serve_runs() -> None:
    """`make serve` runs the server with a sandbox partner, and docs/cli.md no longer says it runs the demo."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^serve:.*\n\t\$\(BIN\)/ledger serve .*--sandbox", makefile, flags=re.MULTILINE)
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "`make serve` runs it" not in doc
    assert "`make serve` runs the HTTP server" in doc


def test_metrics_route_labels_are_the_documented_ones(tmp_path: Path) -> None:
    """Every ``route="..."`` label docs/http.md quotes is one the server really writes."""
    documented = re.findall(r'route="([^"]+)"', (ROOT / "docs" / "http.md").read_text(encoding="utf-8"))
    assert documented
    settings = Settings()
    settings = replace(settings, storage=replace(settings.storage, data_dir=tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        client.get("/api/v1/claims/c1")
        client.get("/health")
        client.get("/no/such/path")
        metrics = client.get("/metrics").text
    written = set(re.findall(r'ledger_http_requests_total\{[^}]*route="([^"]+)"', metrics))
    assert set(documented) <= written


def test_the_embedded_default_accepts_a_loopback_http_receiver() -> None:
    """As docs/webhooks.md says: http://127.0.0.1 is accepted on the embedded default, refused (https only,
    public addresses) once a database URL makes it a server deployment."""
    embedded = Settings()
    server = replace(embedded, storage=replace(embedded.storage, database_url="postgresql://db/ledger"))
    check_target("http://127.0.0.1:9000/hooks", embedded.webhooks_may_target_private)
    with pytest.raises(InvalidCommand, match="https"):
        check_target("http://127.0.0.1:9000/hooks", server.webhooks_may_target_private)
    doc = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    assert "the embedded default also takes http://127.0.0.1" in doc
