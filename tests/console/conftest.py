"""Fixtures: the app (with its console) on a migrated SQLite copy, users, and a logged-in browser;
the demo company seeded on both databases (``seeded``) for the dashboard's figures."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from engine.settings import DatabaseSettings, PathsSettings, Settings
from store.console_users import create_user
from store.db import make_engine, session_scope
from store.seed import seed_demo
from tests.store.conftest import at, engine, pg_migrated_url, session, sqlite_url

__all__ = ["at", "engine", "pg_migrated_url", "session", "sqlite_url"]

PASSWORD = "senha-de-teste-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def db_engine(migrated_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "console.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_engine: sa.Engine, tmp_path: Path) -> Settings:
    for folder in ("rules", "templates"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return Settings(database=DatabaseSettings(url=str(db_engine.url)),
                    rules=PathsSettings(path=tmp_path / "rules"),
                    templates=PathsSettings(path=tmp_path / "templates"))


@pytest.fixture
def app(settings: Settings, db_engine: sa.Engine) -> FastAPI:
    api = ApiSettings(jwt_keys="t1:" + "k" * 48, rate_limit="10000/minute", ip_rate_limit="10000/minute",
                      token_rate_limit="1000/minute", rate_limit_storage="memory://")
    return create_app(settings, api=api, engine=db_engine)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A client over https (the session cookie is Secure), not following redirects."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def make_user(db_engine: sa.Engine) -> Callable[[str, str], None]:
    def make(name: str, role: str = "admin") -> None:
        with session_scope(db_engine) as session:
            create_user(session, name, role, PASSWORD)
    return make


def csrf_of(html: str) -> str:
    """The page's CSRF token; every form on the page must carry the same one, none empty."""
    found = set(CSRF.findall(html))
    assert found, "no csrf_token field in the page"
    assert len(found) == 1 and "" not in found, f"forms carry different or empty tokens: {found}"
    return found.pop()


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; the session's CSRF token (read from the next page)."""
    form = client.get("/console/login")
    answer = client.post("/console/login", data={"name": name, "password": password,
                                                 "csrf_token": csrf_of(form.text), "next": "/console/status"})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/console/status").text)


@pytest.fixture
def admin(browser: TestClient, make_user: Callable[[str, str], None]) -> str:
    """``browser`` logged in as the admin 'ana'; the session's CSRF token."""
    make_user("ana", "admin")
    return log_in(browser, "ana")


@pytest.fixture
def viewer(browser: TestClient, make_user: Callable[[str, str], None]) -> str:
    make_user("vitor", "viewer")
    return log_in(browser, "vitor")


@pytest.fixture
def seeded(engine: sa.Engine, at: datetime) -> sa.Engine:
    """``engine`` (SQLite, then PostgreSQL) with a small demo company as of ``at``."""
    with session_scope(engine) as s:
        seed_demo(s, seed=3, at=at, customers=40, technicians=8, orders=500)
    return engine


def git(folder: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(settings: Settings, tmp_path: Path) -> Path:
    """The repository's own rules and templates, in a git repository of their own (the console commits)."""
    from tests.conftest import REPO

    for folder in ("rules", "templates"):
        shutil.copytree(REPO / folder, tmp_path / folder, dirs_exist_ok=True)
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    git(tmp_path, "add", "rules", "templates")
    git(tmp_path, "-c", "user.name=setup", "-c", "user.email=setup@example.com", "commit", "--quiet",
        "-m", "initial")
    return tmp_path
