"""``despacho check``: a table per connector, exit 1 when any check fails, nothing sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from cli import app
from tests.conftest import write
from tests.fakes.smtp import PASSWORD, USERNAME, SmtpServer, smtp_server
from tests.fakes.twilio import FakeTwilio, twilio_server
from tests.support.rabbitmq_server import rabbitmq_vhost
from tests.support.redis_server import shared_redis

runner = CliRunner()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(trustme.CA(), tmp_path) as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with twilio_server() as fake:
        yield fake


def config(project: Path, smtp: SmtpServer, twilio: FakeTwilio, *, password: str = PASSWORD) -> Path:
    return write(project / "config.yaml", f"""
        connectors:
          email:
            transport: smtp
            host: 127.0.0.1
            port: {smtp.port}
            username: {USERNAME}
            password: {password}
            ca_file: {smtp.ca_file}
          sms:
            transport: twilio
            account_sid: {twilio.account_sid}
            auth_token: {twilio.auth_token}
            api_base_url: {twilio.url}
          whatsapp:
            transport: file
        """)


def test_all_checks_pass_and_nothing_is_sent(project: Path, smtp: SmtpServer, twilio: FakeTwilio) -> None:
    config(project, smtp, twilio)
    result = runner.invoke(app, ["check", "--format", "json"])
    assert result.exit_code == 0, result.output
    checks = {c["connector"]: c for c in json.loads(result.output)["checks"]}
    assert all(c["ok"] for c in checks.values())
    assert checks["email"]["target"] == f"smtp://127.0.0.1:{smtp.port} (starttls)"
    assert twilio.account_sid in checks["sms"]["target"]
    assert checks["whatsapp"]["target"].startswith("file:")
    assert smtp.mailbox.received == [] and twilio.requests == []


def test_failed_check_exits_1_with_error_and_hint(project: Path, smtp: SmtpServer,
                                                  twilio: FakeTwilio) -> None:
    config(project, smtp, twilio, password="wrong")
    result = runner.invoke(app, ["check", "email"])
    assert result.exit_code == 1
    assert "failed" in result.output and "535" in result.output
    assert "1 of 1 checks failed" in result.output


def test_one_connector_can_be_checked_alone(project: Path, smtp: SmtpServer, twilio: FakeTwilio) -> None:
    config(project, smtp, twilio)
    result = runner.invoke(app, ["check", "sms", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [c["connector"] for c in json.loads(result.output)["checks"]] == ["sms"]


def test_unknown_connector_is_a_usage_error(project: Path) -> None:
    assert runner.invoke(app, ["check", "fax"]).exit_code == 2


def test_a_rabbitmq_broker_and_its_coordination_redis_are_checked(project: Path) -> None:
    with rabbitmq_vhost() as amqp_url:
        write(project / "config.yaml", f"""
            broker:
              url: "{amqp_url}"
              coordination_url: "{shared_redis()}"
            """)
        result = runner.invoke(app, ["check", "broker", "--format", "json"])
    assert result.exit_code == 0, result.output
    checks = {c["connector"]: c for c in json.loads(result.output)["checks"]}
    assert set(checks) == {"broker", "coordination"} and all(c["ok"] for c in checks.values())
    assert checks["broker"]["target"] == amqp_url.split("@")[-1]  # no password in the output
    assert "guest:guest" not in result.output


def test_a_rabbitmq_broker_that_does_not_answer_fails_the_check_with_a_hint(project: Path) -> None:
    write(project / "config.yaml", f"""
        broker:
          url: "amqp://guest:guest@127.0.0.1:1/%2F"
          coordination_url: "{shared_redis()}"
        """)
    result = runner.invoke(app, ["check", "broker", "--format", "json"])
    assert result.exit_code == 1
    broker = json.loads(result.output)["checks"][0]
    assert (broker["connector"], broker["ok"], broker["error"]) == ("broker", False, "AMQPConnectionError")
    assert "broker.url" in broker["hint"]
