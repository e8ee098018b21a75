"""Fixtures: a migrated SQLite database per test, for the commands that read or write it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def db_url(migrated_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "despacho.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"
