"""store.db: a new SQLite database (and its -wal and -shm files) is private to its owner."""

from __future__ import annotations

import stat
from pathlib import Path

import sqlalchemy as sa

from store.db import make_engine
from store.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "despacho.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("CREATE TABLE t (x)"))
            connection.commit()
            files = {p.name: mode(p) for p in path.parent.iterdir()}
    finally:
        engine.dispose()
    assert files == {"despacho.db": 0o600, "despacho.db-wal": 0o600, "despacho.db-shm": 0o600}


def test_db_upgrade_creates_the_database_0600(tmp_path: Path) -> None:
    path = tmp_path / "despacho.db"
    upgrade(f"sqlite:///{path}")
    assert mode(path) == 0o600


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    make_engine(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o640
