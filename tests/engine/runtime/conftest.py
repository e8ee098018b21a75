"""Fixtures of the runtime tests: a project on each database the engine supports, SQLite (embedded)
and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from store.migrate import upgrade
from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.postgres import throwaway_pg_database


def _database(kind: str, tmp_path: Path) -> AbstractContextManager[str]:
    if kind == "postgresql":
        return throwaway_pg_database()
    return nullcontext(f"sqlite:///{tmp_path / 'despacho.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def on_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Makes a project (``make_project``) for the given rules on the parametrised database."""
    with _database(request.param, tmp_path) as url:
        def make(rules: str) -> Path:
            config = make_project(tmp_path, rules)
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace(f"sqlite:///{tmp_path / 'despacho.db'}", url), encoding="utf-8")
            if not url.startswith("sqlite"):
                upgrade(url)
            return config
        yield make
