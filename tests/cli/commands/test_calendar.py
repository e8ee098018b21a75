"""``despacho calendar connect|disconnect`` and ``despacho check calendar`` against the fake Google.

``connect`` runs for real in a child process: the installed-app flow prints the consent
address, the test plays the browser by sending Google's redirect to the loopback port,
and the code is exchanged at the fake's token endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from cli import app
from store.db import make_engine, session_scope
from store.keyring import KeyRing
from store.secrets import SecretBox, new_fernet_key
from tests.conftest import write
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, google_calendar_server

DESPACHO = Path(sys.executable).parent / "despacho"
ANA = "ana.lima@example.com"
TEAM = "equipe@example.com"
KEY = new_fernet_key()
runner = CliRunner()


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with google_calendar_server() as fake:
        yield fake


@pytest.fixture
def config(project: Path, db_url: str, google: FakeGoogleCalendar) -> Path:
    secrets_file = write(project / "client_secret.json", json.dumps({"installed": {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": ["http://localhost"],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}))
    return write(project / "config.yaml", f"""
        database:
          url: {db_url}
        secrets:
          keys: "k1:{KEY}"
        connectors:
          calendar:
            transport: google
            api_url: {google.api_url}
            token_uri: {google.token_uri}
            client_secrets_file: {secrets_file}
            timeout: 5
        """)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KeyRing((("k1", KEY),)))


def add_technician(db_url: str, email: str = ANA) -> str:
    from store.models import Technician

    with session_scope(make_engine(db_url)) as session:
        technician = Technician(name="Ana Lima", region="sp-capital", email=email, google_calendar_id=email)
        session.add(technician)
        session.flush()
        return technician.id


def connected(db_url: str, box: SecretBox, google: FakeGoogleCalendar, technician_id: str | None,
              account: str = ANA) -> str:
    """A connection as ``connect`` leaves it (through the same store function); returns the token."""
    from store.calendar_connections import NewGrant, save_connection

    google.add_calendar(account)
    token = google.grant(account)
    with session_scope(make_engine(db_url)) as session:
        save_connection(session, box, technician_id, NewGrant("oauth", account, token, [account]))
    return token


def consent_address(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if "https://" in line:
            return line[line.index("https://"):].strip()
    raise AssertionError(f"connect printed no consent address: {process.communicate(timeout=10)}")


def run_connect(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1",  # the loopback redirect is plain http
           "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([str(DESPACHO), "--config", str(config), "calendar", "connect", *args,
                             "--no-browser", "--timeout", "60"], cwd=config.parent, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_connect_exchanges_the_loopback_redirect_stores_the_token_encrypted_and_lists_writable_calendars(
        config: Path, db_url: str, google: FakeGoogleCalendar, box: SecretBox) -> None:
    from sqlmodel import select

    from store.models import Secret
    from store.models.calendar import CalendarConnection
    from store.secrets import get_secret

    technician_id = add_technician(db_url)
    google.add_calendar(TEAM)
    google.add_calendar("feriados@example.com")
    google.access_roles[(ANA, "feriados@example.com")] = "reader"
    process = run_connect(config, "--technician", technician_id)
    query = parse_qs(urlsplit(consent_address(process)).query)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["client_id"] == [CLIENT_ID]
    redirect = httpx.get(query["redirect_uri"][0], params={
        "state": query["state"][0], "code": google.issue_code(ANA), "scope": query["scope"][0]})
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert "You can close this tab" in redirect.text
    assert f"connected {ANA} (oauth) for technician {technician_id}" in out
    assert TEAM in out and "feriados" not in out  # a calendar it may only read is not offered
    with session_scope(make_engine(db_url)) as session:
        connection = session.exec(select(CalendarConnection)).one()
        secret = session.get(Secret, connection.secret_name)
        assert connection.technician_id == technician_id and connection.status == "connected"
        assert sorted(connection.calendars or []) == sorted([ANA, TEAM])
        token = get_secret(session, box, connection.secret_name or "")
        assert secret is not None and token.encode() not in secret.ciphertext
    assert google.grants[token].account == ANA


def test_connect_reports_a_refused_consent_and_stores_nothing(config: Path, db_url: str,
                                                             google: FakeGoogleCalendar) -> None:
    from sqlmodel import select

    from store.models.calendar import CalendarConnection

    technician_id = add_technician(db_url)
    process = run_connect(config, "--technician", technician_id)
    query = parse_qs(urlsplit(consent_address(process)).query)
    httpx.get(query["redirect_uri"][0], params={"state": query["state"][0], "error": "access_denied"})
    out, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert "Google refused the consent: access_denied" in err + out
    with session_scope(make_engine(db_url)) as session:
        assert session.exec(select(CalendarConnection)).all() == []


def test_connect_for_an_unknown_technician_fails_before_any_browser(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "calendar", "connect", "--technician", "nobody",
                                 "--no-browser"])
    assert result.exit_code == 2
    assert "technician 'nobody' not found" in result.output


def service_account_key(project: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return write(project / "service-account.json", json.dumps({
        "type": "service_account", "project_id": "despacho-test", "private_key_id": "k1", "private_key": pem,
        "client_email": "despacho@despacho-test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))


def test_connect_with_a_service_account_acts_as_the_technician_without_a_browser(
        config: Path, db_url: str, google: FakeGoogleCalendar, project: Path) -> None:
    from sqlmodel import select

    from store.models.calendar import CalendarConnection

    key_file = service_account_key(project)
    config.write_text(config.read_text() + f"    service_account_key_file: {key_file}\n")
    technician_id = add_technician(db_url)
    result = runner.invoke(app, ["--config", str(config), "calendar", "connect", "--technician",
                                 technician_id, "--service-account"])

    assert result.exit_code == 0, result.output
    assert f"connected {ANA} (service_account)" in result.output
    with session_scope(make_engine(db_url)) as session:
        connection = session.exec(select(CalendarConnection)).one()
        assert (connection.kind, connection.account, connection.secret_name) == ("service_account", ANA, None)
    assert any(request["account"] == ANA for request in google.requests)  # acted as Ana, not as itself


def test_check_calendar_shows_each_connection_with_its_calendars_and_token_expiry(
        config: Path, db_url: str, google: FakeGoogleCalendar, box: SecretBox) -> None:
    connected(db_url, box, google, add_technician(db_url))
    result = runner.invoke(app, ["--config", str(config), "check", "calendar", "--format", "json"])

    assert result.exit_code == 0, result.output
    [check] = json.loads(result.output)["checks"]
    [connection] = check["connections"]
    assert check["ok"] and check["connector"] == "calendar"
    assert connection["account"] == ANA and connection["status"] == "connected"
    assert connection["calendars"] == [{"calendar_id": ANA, "reachable": True, "error": None}]
    assert connection["token_expires_at"] is not None


def test_check_calendar_fails_on_a_revoked_grant_and_says_to_reconnect(
        config: Path, db_url: str, google: FakeGoogleCalendar, box: SecretBox) -> None:
    technician_id = add_technician(db_url)
    google.revoke(connected(db_url, box, google, technician_id))
    result = runner.invoke(app, ["--config", str(config), "check", "calendar", "--format", "json"])

    assert result.exit_code == 1
    [check] = json.loads(result.output)["checks"]
    [connection] = check["connections"]
    assert not check["ok"] and "invalid_grant" in check["error"] and "invalid_grant" in connection["error"]
    assert check["hint"] == "reconnect the broken account: despacho calendar connect [--technician ID]"


def test_check_calendar_without_connections_says_how_to_connect(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "check", "calendar", "--format", "json"])
    assert result.exit_code == 1
    [check] = json.loads(result.output)["checks"]
    assert check["error"] == "no Google Calendar connection: run 'despacho calendar connect'"
    assert check["code"] == "calendar_not_connected"


def watched(db_url: str, google: FakeGoogleCalendar, calendar_id: str) -> str:
    """A push channel open at Google and stored, as the sync job leaves it; returns its id."""
    from store.models import CalendarSyncState

    answer = google.watch(calendar_id, {"id": "channel-1", "type": "web_hook", "token": "t",
                                        "address": "https://despacho.example.com/webhooks/google/calendar"})
    with session_scope(make_engine(db_url)) as session:
        session.add(CalendarSyncState(calendar_id=calendar_id, channel_id="channel-1", channel_token="t",
                                      channel_resource_id=answer["resourceId"]))
    return "channel-1"


def test_disconnect_stops_the_channels_at_google_and_forgets_the_grant(
        config: Path, db_url: str, google: FakeGoogleCalendar, box: SecretBox) -> None:
    from sqlmodel import select

    from store.models import CalendarSyncState, Secret
    from store.models.calendar import CalendarConnection

    technician_id = add_technician(db_url)
    connected(db_url, box, google, technician_id)
    watched(db_url, google, ANA)
    result = runner.invoke(app, ["--config", str(config), "calendar", "disconnect", "--technician",
                                 technician_id])

    assert result.exit_code == 0, result.output
    assert f"channels stopped at Google: {ANA}" in result.output
    assert google.channels == {}
    with session_scope(make_engine(db_url)) as session:
        assert session.exec(select(CalendarConnection)).all() == []
        assert session.exec(select(Secret)).all() == []
        state = session.get(CalendarSyncState, ANA)
        assert state is not None and state.channel_id is None and state.channel_token is None


def test_disconnect_of_a_broken_connection_forgets_its_channels_and_says_they_were_not_stopped(
        config: Path, db_url: str, google: FakeGoogleCalendar, box: SecretBox) -> None:
    from sqlmodel import select

    from store.models.calendar import CalendarConnection

    technician_id = add_technician(db_url)
    connected(db_url, box, google, technician_id)
    watched(db_url, google, ANA)
    with session_scope(make_engine(db_url)) as session:
        connection = session.exec(select(CalendarConnection)).one()
        connection.status, connection.broken_reason = "broken", "invalid_grant"
    result = runner.invoke(app, ["--config", str(config), "calendar", "disconnect", "--technician",
                                 technician_id, "--format", "json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["forgotten"] == [ANA] and report["stopped"] == []
    assert "broken" in report["problem"]
    assert list(google.channels) == ["channel-1"]  # it expires at Google on its own


def test_disconnect_without_a_connection_is_a_usage_error(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "calendar", "disconnect"])
    assert result.exit_code == 2
    assert "(shared)' not found: nothing to disconnect" in result.output
