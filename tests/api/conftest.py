"""Fixtures: an app on a migrated SQLite copy, API clients, tokens, and the local Redis."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.scopes import SCOPES
from api.settings import ApiSettings
from connectors.backup.settings import BackupSettings
from engine.settings import ConnectorsSettings, DatabaseSettings, PathsSettings, Settings
from store.api_clients import create_client
from store.db import make_engine, session_scope
from tests.support.redis_server import shared_redis

JWT_KEY = "test-key-" + "x" * 40
ISSUER, AUDIENCE = "despacho", "despacho-api"


@pytest.fixture
def db_url(migrated_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "api.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db_engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir()
    (tmp_path / "templates").mkdir()
    # backups off (file transport): /ready would be degraded with no backup ever made
    return Settings(database=DatabaseSettings(url=db_url), rules=PathsSettings(path=rules),
                    templates=PathsSettings(path=tmp_path / "templates"),
                    connectors=ConnectorsSettings(backup=BackupSettings(transport="file")))


@pytest.fixture
def api_config(tmp_path: Path) -> ApiSettings:
    return ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit="10000/minute", ip_rate_limit="10000/minute",
                       token_rate_limit="1000/minute", rate_limit_storage="memory://")


@pytest.fixture
def app(settings: Settings, api_config: ApiSettings, db_engine: sa.Engine) -> FastAPI:
    return create_app(settings, api=api_config, engine=db_engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_client(db_engine: sa.Engine) -> Callable[..., tuple[str, str]]:
    """An API client in the database: (client_id, client_secret); by default it may send every event type."""
    def make(*scopes: str, name: str = "erp", event_types: tuple[str, ...] = ("*",),
             event_source: str | None = None) -> tuple[str, str]:
        with session_scope(db_engine) as session:
            made = create_client(session, name, scopes or ("admin",), known_scopes=SCOPES,
                                 event_types=event_types, event_source=event_source)
            return made.client.key_prefix, made.secret
    return make


@pytest.fixture
def token_for(make_client: Callable[..., tuple[str, str]]) -> Callable[..., str]:
    """A valid bearer token for a new client holding ``scopes``."""
    def make(*scopes: str) -> str:
        client_id, _ = make_client(*scopes)
        return forge_token(sub=client_id, scope=" ".join(scopes or ("admin",)))
    return make


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(*scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(*scopes)}"}
    return make


def forge_token(*, sub: str, scope: str = "admin", key: str = JWT_KEY, kid: str = "t1",
                algorithm: str = "HS256", **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300,
                                 "jti": uuid.uuid4().hex, "scope": scope}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis; a test that needs it fails (never skips) when it does not answer."""
    return shared_redis()
