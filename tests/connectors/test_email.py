"""Email over SMTP against aiosmtpd on loopback (STARTTLS, implicit TLS, AUTH), and the file transport."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trustme
from sqlmodel import Session, select

from connectors.base import Runtime
from connectors.email import EmailConnector, EmailSettings, SendEmailParams
from errors import PermanentError, TransientError
from store.models import Customer, Notification
from tests.connectors.conftest import call
from tests.fakes.ports import free_port
from tests.fakes.smtp import PASSWORD, USERNAME, SmtpServer, busy_smtp_server, smtp_server


def settings_for(server: SmtpServer, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {"transport": "smtp", "host": server.host, "port": server.port,
                              "security": server.security, "username": USERNAME, "password": PASSWORD,
                              "from": "Refrigeração Paulista <atendimento@refrigeracaopaulista.com.br>",
                              "ca_file": server.ca_file, "timeout": 5}
    values.update(overrides)
    return EmailSettings.model_validate(values)


def simple(to: Any = "maria@example.com", **fields: Any) -> SendEmailParams:
    return SendEmailParams(to=to, subject=fields.pop("subject", "Sua visita"),
                           body=fields.pop("body", "Olá, Maria"), **fields)


@pytest.fixture
def server(ca: trustme.CA, tmp_path: Path) -> Any:
    with smtp_server(ca, tmp_path, "starttls") as running:
        yield running


def test_starttls_with_auth_delivers_text_and_html_parts(server: SmtpServer, bare_runtime: Runtime) -> None:
    connector = EmailConnector(settings_for(server), bare_runtime)
    message = {"subject": "Técnico a caminho", "text": "Olá, Maria", "html": "<p>Olá, <b>Maria</b></p>"}
    params = SendEmailParams(to="maria@example.com", template="technician_assigned")

    outputs = connector.execute(call("send", params, message=message))

    [received] = server.mailbox.received
    assert server.mailbox.logins == [USERNAME]
    assert received.rcpt_tos == ["maria@example.com"]
    assert received.message["Subject"] == "Técnico a caminho"
    assert received.message["Message-ID"] == outputs["message_id"]
    assert received.message.get_body(("plain",)).get_content().strip() == "Olá, Maria"
    assert "<b>Maria</b>" in received.message.get_body(("html",)).get_content()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_delivers(ca: trustme.CA, tmp_path: Path, bare_runtime: Runtime) -> None:
    with smtp_server(ca, tmp_path, "tls") as server:
        EmailConnector(settings_for(server), bare_runtime).execute(call("send", simple()))
    assert len(server.mailbox.received) == 1


def test_plain_smtp_without_auth_delivers(ca: trustme.CA, tmp_path: Path, bare_runtime: Runtime) -> None:
    with smtp_server(ca, tmp_path, "none", auth=False) as server:
        settings = settings_for(server, username=None, password=None)
        EmailConnector(settings, bare_runtime).execute(call("send", simple()))
    assert len(server.mailbox.received) == 1


def test_accented_sender_name_and_subject_are_encoded_and_read_back(server: SmtpServer,
                                                                   bare_runtime: Runtime) -> None:
    EmailConnector(settings_for(server), bare_runtime).execute(
        call("send", simple(subject="Atenção: sua visita de amanhã")))
    [received] = server.mailbox.received
    assert received.message["Subject"] == "Atenção: sua visita de amanhã"
    assert received.message["From"].addresses[0].display_name == "Refrigeração Paulista"
    assert received.mail_from == "atendimento@refrigeracaopaulista.com.br"


def test_cc_and_reply_to_are_headers_and_bcc_is_envelope_only(server: SmtpServer,
                                                              bare_runtime: Runtime) -> None:
    params = simple(to=["maria@example.com", "jose@example.com"], cc="gerente@example.com",
                    bcc=["arquivo@example.com"], reply_to="financeiro@example.com")
    EmailConnector(settings_for(server), bare_runtime).execute(call("send", params))

    [received] = server.mailbox.received
    assert sorted(received.rcpt_tos) == ["arquivo@example.com", "gerente@example.com",
                                         "jose@example.com", "maria@example.com"]
    assert received.message["To"] == "maria@example.com, jose@example.com"
    assert received.message["Cc"] == "gerente@example.com"
    assert received.message["Reply-To"] == "financeiro@example.com"
    assert received.message["Bcc"] is None
    assert "arquivo@example.com" not in received.message.as_string()


def test_attachment_arrives_with_its_name_and_type(server: SmtpServer, bare_runtime: Runtime,
                                                   tmp_path: Path) -> None:
    report = tmp_path / "relatorio-os-123.pdf"
    report.write_bytes(b"%PDF-1.4 relatorio")
    EmailConnector(settings_for(server, attachments_dir=tmp_path), bare_runtime).execute(
        call("send", simple(attachments=[str(report)])))

    [received] = server.mailbox.received
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_filename() == "relatorio-os-123.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 relatorio"


def test_missing_attachment_is_permanent_and_sends_nothing(server: SmtpServer, bare_runtime: Runtime,
                                                           tmp_path: Path) -> None:
    connector = EmailConnector(settings_for(server, attachments_dir=tmp_path), bare_runtime)
    with pytest.raises(PermanentError, match=r"relatorio\.pdf") as raised:
        connector.execute(call("send", simple(attachments=[str(tmp_path / "relatorio.pdf")])))
    assert raised.value.code == "attachment_missing"
    assert server.mailbox.received == []


def test_an_attachment_outside_the_attachments_folder_is_refused_and_sends_nothing(
        server: SmtpServer, bare_runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "attachments").mkdir()
    (tmp_path / "jwt.keys").write_text("k1:secret", encoding="utf-8")
    connector = EmailConnector(settings_for(server, attachments_dir=tmp_path / "attachments"), bare_runtime)
    with pytest.raises(PermanentError, match=r"attachment '\.\./jwt\.keys' is outside") as raised:
        connector.execute(call("send", simple(attachments=["../jwt.keys"])))
    assert raised.value.code == "attachment_refused"
    assert server.mailbox.received == []


def test_a_file_an_earlier_step_produced_in_the_outbox_is_attached(server: SmtpServer, bare_runtime: Runtime,
                                                                   tmp_path: Path) -> None:
    produced = bare_runtime.outbox / "backup" / "b1.json"
    produced.parent.mkdir(parents=True)
    produced.write_text("{}", encoding="utf-8")
    connector = EmailConnector(settings_for(server, attachments_dir=tmp_path / "attachments"), bare_runtime)
    params = simple(attachments=[str(produced)])
    with pytest.raises(PermanentError, match="is outside"):  # named by the event: refused
        connector.execute(call("send", params))
    produced_call = call("send", params, key="rule:event:1")
    connector.execute(replace(produced_call, files=frozenset({str(produced)})))
    [received] = server.mailbox.received
    assert [a.get_filename() for a in received.message.iter_attachments()] == ["b1.json"]


@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to"])
def test_crlf_in_an_address_is_bad_header_and_sends_nothing(server: SmtpServer, bare_runtime: Runtime,
                                                            field: str) -> None:
    hostile = "victim@example.com\r\nBcc: attacker@example.net"
    with pytest.raises(PermanentError, match=f"^{field}: ") as raised:
        EmailConnector(settings_for(server), bare_runtime).execute(call("send", simple(**{field: hostile})))
    assert raised.value.code == "bad_header"
    assert server.mailbox.received == []


def test_a_comma_separated_string_is_not_split_into_recipients(server: SmtpServer,
                                                               bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match="is 2 addresses, not one") as raised:
        EmailConnector(settings_for(server), bare_runtime).execute(
            call("send", simple(to="maria@example.com, attacker@example.net")))
    assert raised.value.code == "bad_header"
    assert server.mailbox.received == []


def test_a_refused_header_is_recorded_as_a_failed_notification_on_one_line(
        server: SmtpServer, runtime: Runtime, engine: sa.Engine) -> None:
    with pytest.raises(PermanentError):
        EmailConnector(settings_for(server), runtime).execute(
            call("send", simple(subject="Oi\r\nBcc: attacker@example.net")))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "bad_header")
    assert "\n" not in (row.error_message or "") and "\n" not in row.recipient


@pytest.mark.parametrize("field", ["from", "reply_to"])
def test_settings_refuse_a_sender_that_is_not_one_address(field: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        EmailSettings.model_validate({field: "a@example.com\r\nBcc: x@example.net"})
    with pytest.raises(ValueError, match="2 addresses"):
        EmailSettings.model_validate({field: "a@example.com, b@example.com"})


def test_connection_is_reused_across_sends(server: SmtpServer, bare_runtime: Runtime) -> None:
    connector = EmailConnector(settings_for(server), bare_runtime)
    for number in range(5):
        connector.execute(call("send", simple(), key=f"rule:event-{number}:0"))
    assert len(server.mailbox.received) == 5
    assert server.mailbox.connections == 1
    assert connector.transport.connections_opened == 1


def test_connection_closed_by_server_while_idle_is_replaced(ca: trustme.CA, tmp_path: Path,
                                                            bare_runtime: Runtime) -> None:
    with smtp_server(ca, tmp_path, "starttls", idle_timeout=0.3) as server:
        connector = EmailConnector(settings_for(server), bare_runtime)
        connector.execute(call("send", simple(), key="k1"))
        time.sleep(0.8)
        connector.execute(call("send", simple(), key="k2"))
    assert len(server.mailbox.received) == 2
    assert connector.transport.connections_opened == 2


def test_refused_recipient_is_permanent_naming_recipient_and_code(server: SmtpServer,
                                                                  bare_runtime: Runtime) -> None:
    server.mailbox.refuse["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: no such user"
    with pytest.raises(PermanentError) as raised:
        EmailConnector(settings_for(server), bare_runtime).execute(
            call("send", simple(to="nobody@example.com")))
    assert raised.value.code == "smtp_550"
    assert "nobody@example.com" in str(raised.value) and "550" in str(raised.value)


def test_recipient_deferred_with_4xx_is_transient(server: SmtpServer, bare_runtime: Runtime) -> None:
    server.mailbox.refuse["maria@example.com"] = "450 4.2.1 mailbox busy"
    with pytest.raises(TransientError, match="450"):
        EmailConnector(settings_for(server), bare_runtime).execute(call("send", simple()))


def test_one_refused_recipient_among_accepted_ones_is_reported_not_retried(
        server: SmtpServer, bare_runtime: Runtime) -> None:
    server.mailbox.refuse["nobody@example.com"] = "550 5.1.1 no such user"
    outputs = EmailConnector(settings_for(server), bare_runtime).execute(
        call("send", simple(to=["maria@example.com", "nobody@example.com"])))
    assert outputs["refused"] == ["nobody@example.com"]
    assert server.mailbox.received[0].rcpt_tos == ["maria@example.com"]


def test_5xx_reply_to_data_is_permanent(server: SmtpServer, bare_runtime: Runtime) -> None:
    server.mailbox.data_reply = "554 5.7.1 message rejected as spam"
    with pytest.raises(PermanentError, match="554") as raised:
        EmailConnector(settings_for(server), bare_runtime).execute(call("send", simple()))
    assert raised.value.code == "smtp_554"


def test_4xx_reply_to_data_is_transient(server: SmtpServer, bare_runtime: Runtime) -> None:
    server.mailbox.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientError, match="451"):
        EmailConnector(settings_for(server), bare_runtime).execute(call("send", simple()))


def test_wrong_password_is_permanent_with_the_smtp_code(server: SmtpServer, bare_runtime: Runtime) -> None:
    connector = EmailConnector(settings_for(server, password="wrong"), bare_runtime)
    with pytest.raises(PermanentError, match="authentication as despacho failed") as raised:
        connector.execute(call("send", simple()))
    assert raised.value.code == "smtp_535"
    assert server.mailbox.received == []


def test_server_greeting_421_is_transient() -> None:
    with busy_smtp_server() as port:
        settings = EmailSettings(transport="smtp", host="127.0.0.1", port=port, security="none", timeout=2)
        with pytest.raises(TransientError, match="421"):
            EmailConnector(settings, Runtime(outbox=Path("unused"))).execute(call("send", simple()))


def test_nothing_listening_is_transient() -> None:
    settings = EmailSettings(transport="smtp", host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(TransientError, match=r"cannot reach smtp://127\.0\.0\.1"):
        EmailConnector(settings, Runtime(outbox=Path("unused"))).execute(call("send", simple()))


def test_untrusted_certificate_is_permanent(server: SmtpServer, bare_runtime: Runtime) -> None:
    connector = EmailConnector(settings_for(server, ca_file=None), bare_runtime)
    with pytest.raises(PermanentError, match="not trusted") as raised:
        connector.execute(call("send", simple()))
    assert raised.value.code == "smtp_tls_verify"


def test_check_connects_and_authenticates_without_sending(server: SmtpServer, bare_runtime: Runtime) -> None:
    result = EmailConnector(settings_for(server), bare_runtime).check()
    assert result["target"] == f"smtp://127.0.0.1:{server.port} (starttls)"
    assert "AUTH as despacho" in result["detail"]
    assert server.mailbox.logins == [USERNAME]
    assert server.mailbox.received == []


def test_check_reports_bad_credentials(server: SmtpServer, bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match="535"):
        EmailConnector(settings_for(server, password="wrong"), bare_runtime).check()


# --- records and idempotency --------------------------------------------------------------------

def test_send_writes_a_notification_row(server: SmtpServer, runtime: Runtime, engine: sa.Engine,
                                        make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    outputs = EmailConnector(settings_for(server), runtime).execute(call("send", simple()))

    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.channel, row.recipient, row.subject, row.body) == (
        "email", "maria@example.com", "Sua visita", "Olá, Maria")
    assert (row.provider, row.provider_id, row.status) == ("smtp", outputs["message_id"], "sent")
    assert row.customer_id == customer.id
    assert [entry["status"] for entry in row.status_history] == ["sent"]
    assert outputs["notification_id"] == row.id


def test_step_run_twice_sends_once(server: SmtpServer, runtime: Runtime,
                                   make_step: Callable[..., Any]) -> None:
    step = make_step("email.send", "rule:event:0")
    connector = EmailConnector(settings_for(server), runtime)
    first = connector.execute(call("send", simple(), key=step.idempotency_key))
    again = connector.execute(call("send", simple(), key=step.idempotency_key))

    assert len(server.mailbox.received) == 1
    assert again["message_id"] == first["message_id"]
    assert again["duplicate"] is True


def test_step_run_twice_without_database_sends_once(server: SmtpServer, bare_runtime: Runtime) -> None:
    connector = EmailConnector(settings_for(server), bare_runtime)
    connector.execute(call("send", simple()))
    assert connector.execute(call("send", simple()))["duplicate"] is True
    assert len(server.mailbox.received) == 1


def test_retry_after_transient_failure_sends_and_keeps_one_row(
        server: SmtpServer, runtime: Runtime, engine: sa.Engine, make_step: Callable[..., Any]) -> None:
    step = make_step("email.send", "rule:event:0")
    connector = EmailConnector(settings_for(server), runtime)
    server.mailbox.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientError):
        connector.execute(call("send", simple(), key=step.idempotency_key))
    server.mailbox.data_reply = None
    connector.execute(call("send", simple(), key=step.idempotency_key))

    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert row.status == "sent" and row.step_id == step.id and row.error_code is None
    assert [e["status"] for e in row.status_history] == ["pending", "sent"]
    assert row.status_history[0]["error_code"] == "transient"


def test_permanent_failure_is_recorded_with_its_code(server: SmtpServer, runtime: Runtime,
                                                     engine: sa.Engine) -> None:
    server.mailbox.refuse["nobody@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(PermanentError):
        EmailConnector(settings_for(server), runtime).execute(call("send", simple(to="nobody@example.com")))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "smtp_550")
    assert "nobody@example.com" in (row.error_message or "")


def test_opted_out_customer_is_skipped_with_reason(server: SmtpServer, runtime: Runtime, engine: sa.Engine,
                                                   make_customer: Callable[..., Customer]) -> None:
    make_customer(opt_outs=["email"])
    with pytest.raises(PermanentError, match="opted out") as raised:
        EmailConnector(settings_for(server), runtime).execute(call("send", simple()))
    assert raised.value.code == "opted_out"
    assert server.mailbox.received == []
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "opted_out")


# --- file transport ---------------------------------------------------------------------------------

def test_file_transport_writes_the_message_once(tmp_path: Path) -> None:
    connector = EmailConnector(EmailSettings(), Runtime(outbox=tmp_path))
    message = {"subject": "Lembrete", "text": "Olá", "html": "<p>Olá</p>"}
    params = SendEmailParams(to="maria@example.com", template="lembrete")
    first = connector.execute(call("send", params, message=message))
    again = connector.execute(call("send", params, message=message))

    [written] = list((tmp_path / "email").glob("*.json"))
    body = json.loads(written.read_text(encoding="utf-8"))
    assert body["to"] == ["maria@example.com"] and body["html"] == "<p>Olá</p>"
    assert body["message_id"] == first["message_id"] == again["message_id"]


def test_empty_recipient_is_permanent_before_connecting(bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match="no recipient") as raised:
        EmailConnector(EmailSettings(transport="smtp", port=free_port()), bare_runtime).execute(
            call("send", simple(to="")))
    assert raised.value.code == "no_recipient"


def test_dry_run_plan_warns_of_a_header_the_send_would_refuse(bare_runtime: Runtime) -> None:
    connector = EmailConnector(EmailSettings(), bare_runtime)
    clean = connector.plan("send", simple(), None)
    assert "warning" not in clean
    hostile = connector.plan("send", simple(to="maria@example.com\r\nBcc: x@example.net"), None)
    assert hostile["warning"].startswith("bad_header: to: ")
