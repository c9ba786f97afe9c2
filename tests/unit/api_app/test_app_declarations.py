"""Building the app warns nothing: every handler and dependency parameter declares where its value comes from."""

from __future__ import annotations

import warnings
from pathlib import Path

from api.app import create_app
from api.settings import Settings, StorageSection


def test_building_the_app_emits_no_warning(tmp_path: Path) -> None:
    """Parameters carry Litestar's markers (``NamedDependency``, ``JSONBody``, ``PathParameter``, ``QueryParameter``,
    ``FromPath``...): an inferred one (a dependency, a path or query parameter, a ``data`` without a body marker)
    makes Litestar 2 warn and stops working in Litestar 3. All warnings are listed, not only the first."""
    settings = Settings(storage=StorageSection(data_dir=tmp_path / "data"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings)
    assert [f"{warning.category.__name__}: {warning.message}" for warning in caught] == []
