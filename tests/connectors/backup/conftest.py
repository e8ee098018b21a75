"""Fixtures: a real restic repository in a temporary folder, with its own cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.backup.restic import Restic

PASSWORD = "correct horse battery staple"


def require_restic() -> None:
    if shutil.which("restic") is None:
        pytest.fail("restic is not installed: run 'make tools' (apt-get install restic)")


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    require_restic()
    repo = Restic(str(tmp_path / "repo"), PASSWORD, env={"RESTIC_CACHE_DIR": str(tmp_path / "cache")})
    repo.ensure_repository()
    return repo
