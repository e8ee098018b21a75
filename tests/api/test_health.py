"""/health, /ready (database, broker, connectors), /metrics, security headers, CORS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from engine.settings import BrokerSettings, Settings
from tests.api.conftest import JWT_KEY
from tests.support.rabbitmq_server import rabbitmq_vhost


def test_health_answers_without_a_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_shows_a_bearer_of_ops_read_the_database_broker_and_connector_checks(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.get("/ready", headers=auth("ops:read"))
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"] == {"status": "ok", "detail": "in-process broker"}
    assert checks["connectors"]["email"]["transport"] == "file"


def test_ready_without_a_token_shows_the_status_alone(client: TestClient) -> None:
    response = client.get("/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_ready_with_a_bad_token_or_another_scope_shows_the_status_alone(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    for headers in ({"Authorization": "Bearer not-a-jwt"}, auth("events:write")):
        response = client.get("/ready", headers=headers)
        assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_ready_shows_the_checks_to_an_admin(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    assert "checks" in client.get("/ready", headers=auth("admin")).json()


def test_ready_pings_a_redis_broker(settings: Settings, db_engine: sa.Engine, redis_url: str,
                                    auth: Callable[..., dict[str, str]]) -> None:
    with_redis = settings.model_copy(update={"broker": BrokerSettings(url=redis_url)})
    app = create_app(with_redis, api=ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://"),
                     engine=db_engine)
    with TestClient(app) as client:
        assert client.get("/ready", headers=auth("ops:read")).json()["checks"]["broker"] == {"status": "ok"}


def test_ready_is_503_when_the_broker_does_not_answer(settings: Settings, db_engine: sa.Engine,
                                                      auth: Callable[..., dict[str, str]]) -> None:
    down = settings.model_copy(update={"broker": BrokerSettings(url="redis://127.0.0.1:1/0")})
    app = create_app(down, api=ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://"),
                     engine=db_engine)
    with TestClient(app) as client:
        response = client.get("/ready", headers=auth("ops:read"))
        plain = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "fail"
    assert (plain.status_code, plain.json()) == (503, {"status": "unavailable"})


def ready_checks(settings: Settings, db_engine: sa.Engine, broker: BrokerSettings,
                 headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    app = create_app(settings.model_copy(update={"broker": broker}),
                     api=ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://"),
                     engine=db_engine)
    with TestClient(app) as client:
        response = client.get("/ready", headers=headers)
    return response.status_code, response.json()["checks"]


def test_ready_pings_a_rabbitmq_broker_and_its_coordination_redis(
        settings: Settings, db_engine: sa.Engine, redis_url: str,
        auth: Callable[..., dict[str, str]]) -> None:
    with rabbitmq_vhost() as amqp_url:
        broker = BrokerSettings(url=amqp_url, coordination_url=redis_url)
        status, checks = ready_checks(settings, db_engine, broker, auth("ops:read"))
    assert (status, checks["broker"], checks["coordination"]) == (200, {"status": "ok"}, {"status": "ok"})


def test_ready_is_503_when_rabbitmq_or_its_coordination_redis_does_not_answer(
        settings: Settings, db_engine: sa.Engine, redis_url: str,
        auth: Callable[..., dict[str, str]]) -> None:
    with rabbitmq_vhost() as amqp_url:
        redis_down = BrokerSettings(url=amqp_url, coordination_url="redis://127.0.0.1:1/0")
        status, checks = ready_checks(settings, db_engine, redis_down, auth("ops:read"))
        assert (status, checks["broker"]["status"], checks["coordination"]["status"]) == (503, "ok", "fail")
    rabbitmq_down = BrokerSettings(url="amqp://guest:guest@127.0.0.1:1/%2F", coordination_url=redis_url)
    status, checks = ready_checks(settings, db_engine, rabbitmq_down, auth("ops:read"))
    assert (status, checks["broker"], checks["coordination"]) == (
        503, {"status": "fail", "detail": "AMQPConnectionError"}, {"status": "ok"})


def test_metrics_are_in_prometheus_format_and_count_requests(client: TestClient) -> None:
    client.get("/health")
    body = client.get("/metrics").text
    assert 'despacho_http_requests_total{method="GET",route="/health",status="200"}' in body
    assert "despacho_http_request_duration_seconds_bucket" in body


def test_metrics_include_the_engines_calls_and_the_shared_backlogs(client: TestClient) -> None:
    body = client.get("/metrics").text
    for name in ("despacho_relay_backlog_events", "despacho_relay_backlog_oldest_seconds",
                 'despacho_steps{status="queued"}', "despacho_dead_letters_open",
                 "# TYPE despacho_connector_calls_total counter", "# TYPE despacho_rule_steps_total counter"):
        assert name in body, name


def test_metrics_can_require_a_scope(settings: Settings, db_engine: sa.Engine, auth) -> None:
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://", metrics_public=False)
    with TestClient(create_app(settings, api=api, engine=db_engine)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=auth("metrics:read")).status_code == 200


def test_responses_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/health").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["Content-Security-Policy"]


def test_cors_is_off_unless_origins_are_configured(client: TestClient, settings: Settings,
                                                   db_engine: sa.Engine) -> None:
    preflight = {"Origin": "https://painel.example.com", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/v1/events", headers=preflight).headers
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://",
                      cors_origins="https://painel.example.com")
    with TestClient(create_app(settings, api=api, engine=db_engine)) as cors_client:
        allowed = cors_client.options("/v1/events", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://painel.example.com"


def test_an_unknown_route_answers_the_error_shape(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_ready_is_200_degraded_while_the_rule_files_do_not_load_and_says_why_to_ops(tmp_path: Path) -> None:
    from api.scopes import SCOPES
    from engine.runtime.compose import build_core
    from engine.settings import load_settings
    from store.api_clients import create_client
    from store.db import session_scope
    from tests.api.conftest import forge_token
    from tests.engine.runtime.pipeline_helpers import make_project

    good = "rules:\n  - id: first\n    on: a.b\n    do:\n      - log.write: {message: ok}\n"
    settings = load_settings(str(make_project(tmp_path, good)), environ={})
    build_core(settings, sender=lambda *_: None).close()  # a good start stores the set
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: first\n    on: a.b\n    do: []\n")
    core = build_core(settings, sender=lambda *_: None)  # restarted with the broken file
    with session_scope(core.db) as session:
        client_id = create_client(session, "ops", ["ops:read"], known_scopes=SCOPES).client.key_prefix
    token = forge_token(sub=client_id, scope="ops:read")
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://")
    try:
        with TestClient(create_app(settings, api=api, core=core)) as client:
            plain = client.get("/ready")
            detailed = client.get("/ready", headers={"Authorization": f"Bearer {token}"})
            (tmp_path / "rules" / "r.yaml").write_text(good.replace("first", "fixed"))
            assert core.rules.reload().ok
            fixed = client.get("/ready")
    finally:
        core.close()
    assert (plain.status_code, plain.json()) == (200, {"status": "degraded"})
    rules = detailed.json()["checks"]["rules"]
    assert (rules["status"], rules["rules"]) == ("degraded", 1) and rules["version"].startswith("sha256:")
    assert rules["detail"] == "started with the last accepted rule set: the rule files do not load"
    [problem] = rules["problems"]
    assert problem.startswith(str(tmp_path / "rules" / "r.yaml") + ":4:") and ": rules[0].do: " in problem
    assert "accepted_at" in rules
    assert (fixed.status_code, fixed.json()) == (200, {"status": "ready"})
