"""Fixtures: a real restic repository in a temporary folder, and backup services around real databases."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.backup.backups import BackupSources
from connectors.backup.restic import Restic
from connectors.backup.service import BackupService
from connectors.backup.settings import BackupSettings
from store.db import make_engine, session_scope
from store.migrate import upgrade
from tests.connectors.backup.cheap_key import cheapen_key
from tests.support.databases import sqlite_copy
from tests.support.postgres import throwaway_pg_database

PASSWORD = "correct horse battery staple"


def require_restic() -> None:
    if shutil.which("restic") is None:
        pytest.fail("restic is not installed: run 'make tools' (apt-get install restic)")


def new_repository(folder: Path, cache: Path) -> Restic:
    """A repository made by restic, re-keyed cheaply (restic's calibrated scrypt costs ~0.5 s a run)."""
    require_restic()
    repo = Restic(str(folder), PASSWORD, env={"RESTIC_CACHE_DIR": str(cache)})
    repo.ensure_repository()
    cheapen_key(folder, PASSWORD)
    return repo


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    return new_repository(tmp_path / "repo", tmp_path / "cache")


@pytest.fixture
def backup_settings(tmp_path: Path) -> BackupSettings:
    return BackupSettings(transport="restic", repository=str(tmp_path / "repo"),
                          staging=str(tmp_path / "staging"))


@pytest.fixture
def rules_folder(tmp_path: Path) -> Path:
    """A rules folder in a git repository with one commit."""
    folder = tmp_path / "project" / "rules"
    folder.mkdir(parents=True)
    (folder / "r.yaml").write_text("rules: []\n", encoding="utf-8")
    git = ["git", "-C", str(folder.parent), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "rules"], check=True)
    return folder


ServiceFactory = Callable[[str], BackupService]


@pytest.fixture
def make_service(backup_settings: BackupSettings, restic: Restic, rules_folder: Path,
                 tmp_path: Path) -> Iterator[ServiceFactory]:
    """A service backing up the database at the URL given, recording in it."""
    engines: list[sa.Engine] = []
    templates = tmp_path / "project" / "templates" / "sms"
    templates.mkdir(parents=True)
    (templates / "aviso.txt").write_text("Olá {{ data.name }}", encoding="utf-8")

    def make(url: str) -> BackupService:
        engine = make_engine(url)
        engines.append(engine)
        sources = BackupSources(url, rules_folder, templates.parent, None)
        return BackupService(backup_settings, sources, lambda: restic, partial(session_scope, engine))

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def sqlite_url(migrated_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(migrated_template, tmp_path)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own, dropped afterwards."""
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url
