"""Server-rendered pages (issue 17): the member portal, its embedding, the partner console, the auditor console.

Rooms: one module per page family (``portal``, ``embed``, ``theme``, ``console``, ``auditor``), Jinja
templates under ``templates/`` (autoescaped; every page extends ``base.html``), and the pages' own
assets under ``static/`` served at :data:`STATIC_PATH`. No third-party script, font or stylesheet is
loaded at run time: everything a page needs is served by the app, with pinned versions and licences
noted in ``static/LICENSES.md``. Route handlers here parse, call one use case and render, like the API's.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

PAGES_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PAGES_DIR / "templates"
STATIC_DIR = PAGES_DIR / "static"
STATIC_PATH = "/static/pages"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja over :data:`TEMPLATES_DIR`, autoescaping every template (``.html`` and ``.js`` alike)."""

    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.autoescape = True
        engine.engine.globals["static_path"] = STATIC_PATH

    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure)


def static_router() -> Router:
    """The pages' assets at :data:`STATIC_PATH` (immutable per release; outside the OpenAPI document)."""
    return create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], include_in_schema=False, name="pages-static"
    )
