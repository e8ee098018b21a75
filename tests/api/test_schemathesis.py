"""Schemathesis over /openapi.json against the app: no 500s, every response matches the schema.

Examples per operation are bounded so the suite stays fast; the token used
holds every scope, so generated requests reach the handlers and the store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.scopes import SCOPES
from api.settings import ApiSettings
from engine.settings import DatabaseSettings, PathsSettings, Settings
from store.api_clients import create_client
from store.db import make_engine, session_scope
from store.migrate import upgrade
from tests.api.conftest import JWT_KEY, forge_token

MAX_EXAMPLES = 8
# what the issue asks: no server errors, and responses (status, content type, headers, body) as documented
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance,
          schemathesis.checks.response_headers_conformance]


def _app_and_token(folder: Path) -> tuple[object, str]:
    database = folder / "schemathesis.db"
    upgrade(f"sqlite:///{database}")
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    app_settings = Settings(database=DatabaseSettings(url=f"sqlite:///{database}"),
                            rules=PathsSettings(path=folder / "rules"),
                            templates=PathsSettings(path=folder / "templates"))
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit="1000000/minute", ip_rate_limit="1000000/minute",
                      token_rate_limit="1000000/minute", rate_limit_storage="memory://")
    _plan_runs(app_settings)
    engine = make_engine(app_settings.database.url)
    with session_scope(engine) as session:
        client_id = create_client(session, "schemathesis", ["admin"], known_scopes=SCOPES,
                                  event_types=["*"]).client.key_prefix
    return create_app(app_settings, api=api, engine=engine), forge_token(sub=client_id, exp=2**31 - 1)


def _plan_runs(app_settings: Settings) -> None:
    """Runs with a condition trace, a hold and a skip, so run lists are checked with rows in them."""
    from engine.language.events import Event
    from engine.runtime.compose import build_core

    (app_settings.rules.path / "r.yaml").write_text(
        "rules:\n  - id: paid\n    on: invoice.paid\n    if: [data.amount > 1, {not: data.test}]\n"
        "    mode: queued\n    do:\n      - log.write: {message: paid}\n", encoding="utf-8")
    core = build_core(app_settings, consume=False)
    core.accept([Event(type="invoice.paid", id=f"p{n}", data={"amount": 5, "test": False}) for n in (1, 2)]
                + [Event(type="invoice.paid", id="p3", data={"amount": 5})])
    core.relay.relay_once()
    core.close()


# built at import: schemathesis parametrizes the test from the schema at collection time
_FOLDER = Path(tempfile.mkdtemp(prefix="despacho-schemathesis-"))
APP, TOKEN = _app_and_token(_FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> object:
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_api_never_answers_500_and_always_matches_its_schema(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    case.call_and_validate(checks=CHECKS)
