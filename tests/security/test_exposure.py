"""What the API and the files on disk let a stranger read, replayed: each is closed.

``/ready`` showed the SMTP server's greeting to anyone; a refused token
request did not say whose secret was guessed; a chunked body over the limit
was answered 400; ``var/despacho.db`` was created world-readable.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from cli import app as cli_app
from connectors.email import EmailSettings
from engine.settings import Settings
from store.audit import REQUEST_ACTION, query_entries
from store.db import session_scope
from tests.api.conftest import JWT_KEY
from tests.conftest import write
from tests.fakes.smtp import busy_smtp_server

GREETING = "421 4.3.2 mx01.interno.empresa.local busy"


def test_ready_does_not_show_the_smtp_greeting_to_a_caller_without_ops_read(
        settings: Settings, db_engine: sa.Engine, auth: Callable[..., dict[str, str]]) -> None:
    with busy_smtp_server(GREETING) as port:
        smtp = EmailSettings(transport="smtp", host="127.0.0.1", port=port, security="none", timeout=2)
        configured = settings.model_copy(update={"connectors": settings.connectors.model_copy(
            update={"email": smtp})})
        api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://")
        with TestClient(create_app(configured, api=api, engine=db_engine)) as client:
            stranger = client.get("/ready")
            other_scope = client.get("/ready", headers=auth("events:write"))
            operator = client.get("/ready", headers=auth("ops:read"))
    for answer in (stranger, other_scope):
        assert answer.json() == {"status": "ready"}
        assert "interno" not in answer.text
    assert operator.json()["checks"]["connectors"]["email"]["status"] == "fail"
    assert "mx01.interno" in operator.text


def test_a_guessed_secret_leaves_an_audit_row_naming_the_client_id(
        client: TestClient, make_client: Callable[..., tuple[str, str]], db_engine: sa.Engine) -> None:
    client_id, _ = make_client("events:write")
    client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": "hunter2"})
    client.app.state.ctx.audit.flush()  # type: ignore[attr-defined]
    with session_scope(db_engine) as session:
        (row,) = query_entries(session, action=REQUEST_ACTION, entity_id="POST /v1/token")
        assert row.details["client_id_tried"] == client_id and row.details["status"] == 401
        assert "hunter2" not in str(row.details)


def chunked(total: int) -> Iterator[bytes]:
    yield b'{"name": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}'


def test_a_chunked_body_over_the_limit_gets_413_from_the_served_api(
        served_api: Callable[..., str], auth: Callable[..., dict[str, str]]) -> None:
    url = served_api()
    response = httpx.post(f"{url}/v1/customers", content=chunked(4 * 1024 * 1024), timeout=30,
                          headers={**auth("customers:write"), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_db_upgrade_creates_the_sqlite_file_readable_by_its_owner_only(project: Path) -> None:
    write(project / "config.yaml", "database:\n  url: sqlite:///var/despacho.db\n")
    result = CliRunner().invoke(cli_app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    for path in (project / "var").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
