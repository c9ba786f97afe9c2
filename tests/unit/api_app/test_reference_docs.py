"""docs/reference/ is exactly what ``python -m api.http.reference`` generates from the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from api.http.reference import DEFAULT_OUT, main, openapi_document, render_pages


def test_the_checked_in_reference_pages_are_the_generated_ones() -> None:
    """No page drifts from the document, none is missing, none is left over (regenerate after a change)."""
    pages = render_pages(openapi_document())
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in DEFAULT_OUT.glob("*.md")}
    assert sorted(on_disk) == sorted(pages), "run python -m api.http.reference"
    for name, text in pages.items():
        assert on_disk[name] == text, f"docs/reference/{name} is stale: run python -m api.http.reference"


def test_one_page_per_tag_with_required_fields_and_enums(tmp_path: Path) -> None:
    """Each tag has its page; the claim submission's required fields and the document types are visible."""
    assert main(["--out", str(tmp_path)]) == 0
    document = openapi_document()
    tags = {tag for item in document["paths"].values() for operation in item.values() for tag in operation["tags"]}
    assert {path.stem for path in tmp_path.glob("*.md")} == tags | {"README", "errors"}
    claims = (tmp_path / "claims.md").read_text(encoding="utf-8")
    assert "| `documents` | array of ClaimDocumentBody | yes |" in claims
    assert "| `verificationLevel` | one of `standard`, `enhanced`, `full` | yes |" in claims
    assert "| `type` | one of `photo`, `pdf`, `form` | yes |" in claims
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "claims.md").write_text("edited by hand", encoding="utf-8")
    assert main(["--out", str(tmp_path), "--check"]) == 1
