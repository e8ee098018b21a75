"""Attacks on the privacy faces, replayed: each is refused with a message naming the field.

- PERSON is data: SQL in it finds nobody and changes nothing; control and bidi characters are refused;
- the export's files are named by the customer's id and the time, never by the data (a customer named
  ``../../etc/cron.d/x`` writes inside ``--out``), and never over an existing file;
- ``X-Access-Reason`` is bounded and one printable line (a forged second log line is refused);
- every ``/v1/privacy`` route needs ``privacy:admin``; ``customers:read`` is not enough.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import app as cli_app
from store.db import session_scope
from store.errors import NotFound, ValidationFailed
from store.models import Customer
from store.privacy.subjects import find_subject
from tests.conftest import write
from tests.support.privacy import build_world

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.mark.parametrize("person", ["' OR '1'='1", "x@example.com' OR 1=1 --", "%", "_",
                                    "11987654321; DROP TABLE customers"])
def test_sql_in_a_person_finds_nobody(db_engine: sa.Engine, person: str) -> None:
    build_world(db_engine, AT)
    with session_scope(db_engine) as session, pytest.raises((NotFound, ValidationFailed)) as refused:
        find_subject(session, person)
    assert getattr(refused.value, "field", None) == "person"
    with session_scope(db_engine) as session:
        assert session.exec(sa.select(sa.func.count()).select_from(Customer)).scalar_one() > 1  # type: ignore[call-overload]


@pytest.mark.parametrize("person", ["+55 11 98765-4321\u202e", "maria@example.com\x00", "x" * 300])
def test_unprintable_or_huge_persons_are_refused(db_engine: sa.Engine, person: str) -> None:
    with session_scope(db_engine) as session, pytest.raises(ValidationFailed) as refused:
        find_subject(session, person)
    assert refused.value.field == "person"


def test_the_export_path_is_not_chosen_by_the_data(project: Path, db_url: str, db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    with session_scope(db_engine) as session:
        customer = session.get(Customer, world.customer_id)
        assert customer is not None
        customer.name = "../../etc/cron.d/evil"
    write(project / "config.yaml", f"database: {{url: '{db_url}'}}\n")
    out = project / "out"
    out.mkdir()
    result = runner.invoke(cli_app, ["privacy", "export", world.customer_id, "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and all(name.startswith(f"despacho-export-{world.customer_id}-") for name in files)
    assert not (project / "etc").exists()
    missing = runner.invoke(cli_app, ["privacy", "export", world.customer_id, "--out", str(project / "nope")])
    assert missing.exit_code == 2 and "--out" in missing.output


@pytest.mark.parametrize("reason", ["x" * 201, "ok\nFAKE 2026-12-01 api_client:admin read everything",
                                    "motivo\u202e"])
def test_an_access_reason_is_bounded_and_one_clean_line(client: TestClient, auth: Callable[..., dict[str,
                                                                                                     str]],
                                                        db_engine: sa.Engine, reason: str) -> None:
    world = build_world(db_engine, AT)
    response = client.get(f"/v1/customers/{world.customer_id}", headers=auth("customers:read"),
                          params={"reason": reason})
    assert response.status_code == 422 and response.json()["error"]["details"] == {"field": "reason"}


def test_an_overlong_access_reason_header_is_refused_naming_the_header(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    response = client.get(f"/v1/customers/{world.customer_id}",
                          headers={**auth("customers:read"), "X-Access-Reason": "y" * 500})
    assert response.status_code == 422 and response.json()["error"]["details"] == {"field": "X-Access-Reason"}


@pytest.mark.parametrize("path", ["/v1/privacy/export", "/v1/privacy/correct", "/v1/privacy/anonymise",
                                  "/v1/privacy/processors", "/v1/privacy/access-log", "/v1/privacy/requests"])
def test_privacy_routes_need_the_privacy_scope(client: TestClient, auth: Callable[..., dict[str, str]],
                                               path: str) -> None:
    body = {"person": "+5511987654321", "set": {"city": "x"}, "kind": "export"}
    if path.endswith("/requests"):
        body = {"kind": "export", "person": "+5511987654321"}
    nobody = client.post(path, json=body)
    reader = client.post(path, json=body, headers=auth("customers:read", "customers:write"))
    assert nobody.status_code == 401
    assert reader.status_code == 403 and "privacy:admin" in reader.json()["error"]["message"]
    assert client.get("/v1/privacy/requests", headers=auth("customers:read")).status_code == 403
