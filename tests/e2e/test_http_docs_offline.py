"""The documentation the server serves works without internet: no page names another origin.

Every HTML page the app serves (found from its routes, not from a list: a page added later is checked
too) is fetched; every ``http(s)://`` URL in it must be the server's own origin, and every asset it
loads (``src``, ``href``, CSS ``url()``) must be served by the app itself with a 200.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from api.http.docs_ui import STATIC_DIR, SWAGGER_UI_VERSION
from api.settings import Settings, StorageSection

ORIGIN = "http://testserver.local"
URL = re.compile(r"""https?://[^\s"'<>)]+""")
LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"'#]+)["']|url\(\s*["']?([^"')]+)["']?\s*\)""")
XMLNS = ("http://www.w3.org/",)  # SVG/XHTML namespace names: identifiers, never fetched


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    return create_app(Settings(storage=StorageSection(data_dir=tmp_path_factory.mktemp("docs") / "data")))


@pytest.fixture(scope="module")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=ORIGIN) as test_client:
        yield test_client


def get_paths(app: Litestar) -> list[str]:
    """Every GET path of the app without path parameters."""
    paths = []
    for route in app.routes:
        handlers = getattr(route, "route_handlers", [])
        if "{" not in route.path and any("GET" in handler.http_methods for handler in handlers):
            paths.append(route.path)
    return sorted(paths)


def html_pages(app: Litestar, client: TestClient[Litestar]) -> dict[str, str]:
    pages = {}
    for path in get_paths(app):
        response = client.get(path)
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/html"):
            pages[path] = response.text
    return pages


def test_the_docs_pages_exist(app: Litestar, client: TestClient[Litestar]) -> None:
    """The UI (at /schema and /schema/swagger), the docs index and the error reference are HTML pages."""
    assert {"/schema", "/schema/swagger", "/docs", "/docs/errors"} <= set(html_pages(app, client))


def test_no_served_page_names_another_origin(app: Litestar, client: TestClient[Litestar]) -> None:
    """No CDN, no font service, no external validator: every URL in every page is this server's."""
    for path, text in html_pages(app, client).items():
        foreign = [url for url in URL.findall(text) if not url.startswith((ORIGIN, *XMLNS))]
        assert foreign == [], f"{path} names {foreign}"


def test_every_asset_a_page_loads_is_served(app: Litestar, client: TestClient[Litestar]) -> None:
    """Scripts, styles and icons are answered by the app (a relative or same-origin URL, status 200)."""
    checked = set()
    for path, text in html_pages(app, client).items():
        for match in LOADED.finditer(text):
            target = (match.group(1) or match.group(2)).removeprefix(ORIGIN)
            if target.startswith("data:") or not target:
                continue
            assert target.startswith("/"), f"{path} loads {target}"
            checked.add(target)
            assert client.get(target).status_code == 200, f"{path} loads {target}: not served"
    assert "/docs/static/swagger-ui/swagger-ui-bundle.js" in checked


def test_the_vendored_ui_is_pinned_and_licensed() -> None:
    """The assets carry their license; the version served is the one the docs name."""
    license_text = (STATIC_DIR / "swagger-ui" / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    docs = Path(__file__).resolve().parents[2] / "docs" / "http.md"
    assert f"swagger-ui-dist {SWAGGER_UI_VERSION}" in docs.read_text(encoding="utf-8")
