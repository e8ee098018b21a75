"""store.db: only `db upgrade` creates a SQLite database, private to its owner (and its -wal and -shm)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.db import WAL_AUTOCHECKPOINT_PAGES, make_engine
from store.errors import NoSuchDatabase
from store.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "despacho.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
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


def test_a_missing_sqlite_database_is_an_error_naming_it_and_no_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "var" / "despacho.db"
    expected = r"no such database: .*/var/despacho.db: run `despacho db upgrade`"
    with pytest.raises(NoSuchDatabase, match=expected):
        make_engine(f"sqlite:///{path}")
    assert not (tmp_path / "var").exists()


def test_a_database_deleted_after_the_engine_was_made_is_not_created_again(tmp_path: Path) -> None:
    path = tmp_path / "despacho.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    path.unlink()
    with pytest.raises(sa.exc.OperationalError, match="unable to open database file"):
        engine.connect()
    engine.dispose()
    assert not path.exists()


def test_a_relative_database_path_stays_where_it_was_when_the_working_folder_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    upgrade("sqlite:///var/despacho.db")
    engine = make_engine("sqlite:///var/despacho.db")
    monkeypatch.chdir(tmp_path / "var")
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 0
    engine.dispose()
    assert not (tmp_path / "var" / "var").exists()


def test_a_path_with_uri_characters_opens_the_file_it_names(tmp_path: Path) -> None:
    path = tmp_path / "a b#c.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["a b#c.db"]


def test_a_commit_does_not_copy_the_log_into_the_database_before_it_reaches_the_raised_limit(
        tmp_path: Path) -> None:
    # SQLite's default would copy (and restart) the log at 1,000 pages inside a commit: on the
    # request path of the API; the API's own checkpoint does it off that path (store.db).
    url = f"sqlite:///{tmp_path / 'despacho.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE filler (body BLOB)")
    for _ in range(1500):  # a page or two of log each
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(3000))")
    with engine.connect() as connection:
        limit = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        _, log_pages, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    engine.dispose()
    assert limit == WAL_AUTOCHECKPOINT_PAGES
    assert 1000 < log_pages < WAL_AUTOCHECKPOINT_PAGES
