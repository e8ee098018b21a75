"""The documented uvicorn factory builds the engine's core: webhooks and retries act at once."""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from api.server import SWITCH_INTERVAL_S, app_from_environment
from engine.language.events import Event
from store.db import session_scope
from store.models import DeadLetter, Notification, RuleRun, RuleStep
from tests.support.redis_server import shared_redis, unique_namespace

AUTH_TOKEN = "twilio-auth-token"
PUBLIC = "https://despacho.example.com"
RULES = """
rules:
  - id: visit-reminder
    on: visit.booked
    do:
      - sms.send: {to: "+5511987654321", body: "Sua visita é amanhã"}
        fallback:
          - log.write: {message: "sms to {{ event.id }} failed"}
"""


def project(root: Path, template: Path, broker: str) -> Path:
    (root / "rules").mkdir()
    (root / "rules" / "visits.yaml").write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    (root / "templates").mkdir()
    shutil.copy(template, root / "despacho.db")
    config = root / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        rules: {{path: {root / 'rules'}}}
        templates: {{path: {root / 'templates'}}}
        outbox: {{path: {root / 'outbox'}}}
        database: {{url: "sqlite:///{root / 'despacho.db'}"}}
        broker: {broker}
        api: {{public_url: "{PUBLIC}", jwt_keys: "t1:{'k' * 48}", rate_limit_storage: "memory://"}}
        connectors:
          sms: {{transport: twilio, account_sid: "AC{'1' * 32}", auth_token: {AUTH_TOKEN},
                 from: "+15005550006"}}
    """), encoding="utf-8")
    return config


@pytest.fixture(autouse=True)
def switch_interval() -> Iterator[None]:
    """The factory sets the process's switch interval: the rest of the test run keeps its own."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def factory_client(tmp_path: Path, migrated_template: Path, monkeypatch: pytest.MonkeyPatch,
                   request: pytest.FixtureRequest) -> Iterator[TestClient]:
    broker = getattr(request, "param", '{url: "stub://"}')
    monkeypatch.setenv("DESPACHO_CONFIG", str(project(tmp_path, migrated_template, broker)))
    with TestClient(app_from_environment()) as client:
        yield client


def sent_sms_step(client: TestClient) -> str:
    """A reminder whose SMS Twilio accepted: the step succeeded and its notification is ``sent``."""
    core = client.app.state.ctx.core
    core.accept([Event(type="visit.booked", id="v1")])
    core.relay.relay_once()
    with session_scope(core.db) as session:
        step = session.exec(select(RuleStep).where(RuleStep.action == "sms.send")).one()
        step.status = "succeeded"
        session.add(Notification(channel="sms", recipient="+5511987654321", body="Sua visita é amanhã",
                                 provider="twilio", provider_id="SM" + "e" * 32, status="sent",
                                 step_id=step.id))
    return step.id


def report_undelivered(client: TestClient) -> None:
    form = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003",
            "AccountSid": "AC" + "1" * 32, "To": "+5511987654321", "From": "+15005550006"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/webhooks/twilio/status", form)
    answer = client.post("/webhooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 204


def test_api_from_the_factory_runs_the_fallback_of_a_failed_delivery(factory_client: TestClient) -> None:
    core = factory_client.app.state.ctx.core
    sms_id = sent_sms_step(factory_client)
    report_undelivered(factory_client)
    with Session(core.db) as session:
        assert session.get(RuleStep, sms_id).status == "dead"
        assert session.exec(select(DeadLetter)).one().error_code == "30003"
        fallback = session.exec(select(RuleStep).where(RuleStep.fallback_of == sms_id)).one()
    assert fallback.status == "queued"
    # embedded broker: the API process runs no steps; the daemon's workers (here, the core) do
    assert core.runner.run_step(fallback.id) == "succeeded"
    with Session(core.db) as session:
        assert session.exec(select(RuleRun)).one().status == "succeeded"


REDIS_BROKER = f'{{url: "redis://127.0.0.1:6379/0", namespace: {unique_namespace()}}}'


@pytest.mark.parametrize("factory_client", [REDIS_BROKER], indirect=True)
def test_api_from_the_factory_sends_the_fallback_to_a_shared_broker(factory_client: TestClient) -> None:
    shared_redis()
    core = factory_client.app.state.ctx.core
    sent_sms_step(factory_client)
    namespace = core.settings.broker.namespace
    client = redis.Redis.from_url(core.settings.broker.url)
    before = client.hlen(f"{namespace}:despacho-steps.msgs")
    report_undelivered(factory_client)
    assert client.hlen(f"{namespace}:despacho-steps.msgs") == before + 1  # sent at the commit


def test_the_served_api_hands_the_interpreter_to_its_commit_threads_every_half_millisecond(
        factory_client: TestClient) -> None:
    assert factory_client.get("/health").status_code == 200
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
    assert SWITCH_INTERVAL_S < 0.005  # below Python's default, or the commits wait for the loop
