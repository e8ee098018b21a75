"""Unsubscribe links cannot be forged, altered or borrowed: only despacho's own token unsubscribes.

The link needs no login, so the token is the whole of its authority. Each
attack below is answered 400 (or 422 for an oversized query), logged, and
leaves the suppression list and the consent records as they were.
"""

from __future__ import annotations

import base64
import logging
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from connectors.messaging.unsubscribe import MAX_TOKEN, BadUnsubscribeToken, UnsubscribeLinks
from engine.settings import Settings
from store import consent
from store.keyring import parse_keys
from store.migrate import upgrade
from store.models import ConsentRecord, Suppression
from store.secrets import SecretBox, load_ring, new_fernet_key
from store.seed import DemoCompany

URL = "https://despacho.example.com.br"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
Parts = tuple[TestClient, UnsubscribeLinks, sa.Engine, str]


@pytest.fixture
def app_parts(tmp_path: Path) -> Parts:
    database = f"sqlite:///{tmp_path / 'd.db'}"
    upgrade(database)
    settings = Settings.model_validate({
        "database": {"url": database}, "broker": {"url": "stub://"},
        "secrets": {"keys_file": str(tmp_path / "secrets.keys")},
        "api": {"public_url": URL, "jwt_keys_file": str(tmp_path / "jwt.keys")}})
    engine = sa.create_engine(database)
    customer = DemoCompany(random.Random(7), datetime(2026, 12, 1, tzinfo=UTC)).make_customers()[0]
    with Session(engine) as session:
        session.add(customer)
        session.flush()
        consent.record(session, customer.id, "email", granted=True, source="opt-in no site")
        session.commit()
        email = customer.email
    assert email is not None
    links = UnsubscribeLinks(SecretBox(load_ring(settings.secrets)), URL)
    return TestClient(create_app(settings, engine=engine)), links, engine, email


def untouched(engine: sa.Engine) -> bool:
    with Session(engine) as session:
        return (session.exec(select(Suppression)).all() == []
                and [r.decision for r in session.exec(select(ConsentRecord))] == ["granted"])


def token_of(url: str) -> str:
    return url.partition("?t=")[2]


def test_a_made_up_token_is_refused_logged_and_changes_nothing(
        app_parts: Parts, caplog: pytest.LogCaptureFixture) -> None:
    client, _links, engine, _email = app_parts
    forged = base64.urlsafe_b64encode(b'{"use":"unsubscribe","a":"maria@example.com"}').decode()
    with caplog.at_level(logging.WARNING, logger="despacho.api.unsubscribe"):
        answer = client.post("/v1/unsubscribe", params={"t": forged}, data=ONE_CLICK)
    assert answer.status_code == 400 and "Link inválido" in answer.text
    assert any("unsubscribe refused" in r.getMessage() for r in caplog.records)
    assert untouched(engine)


def test_a_token_altered_by_one_character_is_refused(
        app_parts: Parts) -> None:
    client, links, engine, email = app_parts
    token = token_of(links.url_for(email))
    altered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert client.post("/v1/unsubscribe", params={"t": altered}, data=ONE_CLICK).status_code == 400
    assert client.get("/v1/unsubscribe", params={"t": altered}).status_code == 400
    assert untouched(engine)


def test_a_token_made_with_another_deployments_keys_is_refused(
        app_parts: Parts) -> None:
    client, _links, engine, email = app_parts
    other = UnsubscribeLinks(SecretBox(parse_keys(f"k9:{new_fernet_key()}", "secrets.keys")), URL)
    answer = client.post("/v1/unsubscribe", params={"t": token_of(other.url_for(email))}, data=ONE_CLICK)
    assert answer.status_code == 400
    assert untouched(engine)


def test_another_secret_encrypted_with_the_same_keys_is_not_an_unsubscribe_token(
        app_parts: Parts) -> None:
    client, links, engine, email = app_parts
    # what the secrets store encrypts for other uses (an OAuth refresh token, say) is no link
    not_a_link = links.box.encrypt(f'{{"a":"{email}"}}').decode()
    assert client.post("/v1/unsubscribe", params={"t": not_a_link}, data=ONE_CLICK).status_code == 400
    with pytest.raises(BadUnsubscribeToken):
        links.address_of(links.box.encrypt("1//refresh-token").decode())
    assert untouched(engine)


def test_an_oversized_token_is_refused_before_any_decryption(
        app_parts: Parts) -> None:
    client, links, engine, _email = app_parts
    answer = client.post("/v1/unsubscribe", params={"t": "A" * (MAX_TOKEN + 1)}, data=ONE_CLICK)
    assert answer.status_code == 422
    with pytest.raises(BadUnsubscribeToken):
        links.address_of("A" * (MAX_TOKEN + 1))
    assert untouched(engine)


def test_the_address_in_the_page_is_escaped_and_the_page_runs_no_script(
        app_parts: Parts) -> None:
    client, links, _engine, _email = app_parts
    page = client.get(links.url_for('"<script>alert(1)</script>"@example.com'))
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
