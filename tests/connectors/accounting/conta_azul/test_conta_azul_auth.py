"""Conta Azul's rotating refresh tokens: stored atomically, survived when an answer is lost,
and a refused grant breaking the connection once, loudly, without a retry loop."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from connectors.accounting import conta_azul_auth
from connectors.accounting.adapter import AdapterRuntime
from connectors.accounting.conta_azul import ContaAzulAdapter
from connectors.accounting.conta_azul_auth import AccessTokens, ConnectionStore, forget_all
from connectors.accounting.conta_azul_oauth import TokenEndpoint, Tokens
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError, TransientError
from store.db import session_scope
from store.models import Event, Secret
from store.models.accounting import AccountingConnection
from store.secrets import SecretBox, get_secret
from tests.fakes.conta_azul import FakeContaAzul


def connection(engine: sa.Engine, company: str = "default") -> AccountingConnection:
    with session_scope(engine) as s:
        row = s.exec(select(AccountingConnection).where(AccountingConnection.company == company)).one()
        s.expunge(row)
        return row


def stored_refresh_token(engine: sa.Engine, box: SecretBox, company: str = "default") -> str:
    with session_scope(engine) as s:
        return str(json.loads(get_secret(s, box, f"accounting/conta_azul/{company}"))["refresh_token"])


def auth_failed_events(engine: sa.Engine) -> list[Event]:
    with session_scope(engine) as s:
        return list(s.exec(select(Event).where(Event.type == "accounting.auth_failed")))


def worker_tokens(engine: sa.Engine, box: SecretBox, settings: AccountingSettings) -> AccessTokens:
    """What a second worker process holds: its own store, endpoint and HTTP client."""
    import httpx

    endpoint = TokenEndpoint(settings.conta_azul, httpx.Client(timeout=5), lambda _: None)
    return AccessTokens(ConnectionStore(lambda: session_scope(engine), box, "default"), endpoint,
                        lambda: datetime.now(UTC))


def test_connecting_stores_the_refresh_token_encrypted(connect: Callable[[str], int], engine: sa.Engine,
                                                       box: SecretBox, fake: FakeContaAzul) -> None:
    assert connect("Padaria Pão") == 1
    row = connection(engine, "Padaria Pão")
    assert (row.status, row.token_version) == ("connected", 1)
    assert row.secret_name == "accounting/conta_azul/Padaria Pão"
    with session_scope(engine) as s:
        secret = s.get(Secret, "accounting/conta_azul/Padaria Pão")
        assert secret is not None and fake.refresh_current is not None
        assert fake.refresh_current.encode() not in secret.ciphertext
    assert stored_refresh_token(engine, box, "Padaria Pão") == fake.refresh_current


def test_an_expired_access_token_is_refreshed_once_and_the_rotated_token_stored(
        adapter: ContaAzulAdapter, fake: FakeContaAzul, engine: sa.Engine, box: SecretBox) -> None:
    adapter.check()
    first_refresh = fake.refresh_current
    fake.expire_access_tokens()  # Conta Azul answers 401 to the cached token
    adapter.check()
    assert fake.refresh_current != first_refresh
    assert stored_refresh_token(engine, box) == fake.refresh_current
    assert connection(engine).token_version == 2
    assert [r["grant_type"] for r in fake.token_requests] == ["authorization_code", "refresh_token"]


def test_the_access_token_is_cached_per_process_until_it_expires(adapter: ContaAzulAdapter,
                                                                 fake: FakeContaAzul) -> None:
    for _ in range(5):
        adapter.check()
    assert len(fake.token_requests) == 1  # the code exchange only


@pytest.mark.parametrize("grace", [60.0, 0.0], ids=["previous-token-grace", "no-grace"])
def test_two_workers_refreshing_at_once_end_with_one_valid_token_and_a_working_connection(
        adapter: ContaAzulAdapter, fake: FakeContaAzul, engine: sa.Engine, box: SecretBox,
        settings: AccountingSettings, grace: float) -> None:
    fake.grace = grace
    adapter.check()
    fake.expire_access_tokens()
    workers = [worker_tokens(engine, box, settings) for _ in range(2)]
    start, results, errors = threading.Barrier(2), [], []

    def refresh(tokens: AccessTokens) -> None:
        start.wait()
        try:
            results.append(tokens.refreshed(1))
        except Exception as exc:  # the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert connection(engine).status == "connected" and connection(engine).token_version == 2
    assert stored_refresh_token(engine, box) == fake.refresh_current  # the one valid token
    assert all(token in fake.access_tokens for _, token in results)
    forget_all()
    adapter.check()  # and the connection keeps working
    assert auth_failed_events(engine) == []


def test_a_rotated_refresh_token_lost_mid_refresh_leaves_the_connection_alive(
        adapter: ContaAzulAdapter, fake: FakeContaAzul, engine: sa.Engine, box: SecretBox) -> None:
    adapter.check()
    stored_before = stored_refresh_token(engine, box)
    fake.expire_access_tokens()
    fake.lose_next_token_answer()  # Conta Azul rotates, the answer never reaches us
    with pytest.raises(TransientError, match="token endpoint"):
        adapter.check()
    assert fake.refresh_current != stored_before  # Conta Azul moved on; we still hold the previous
    assert stored_refresh_token(engine, box) == stored_before
    adapter.check()  # the retry refreshes with the previous token, within the grace window
    assert stored_refresh_token(engine, box) == fake.refresh_current
    assert connection(engine).status == "connected"
    fake.expire_access_tokens()
    adapter.check()  # and the next rotation works from the stored token
    assert connection(engine).token_version == 3


def test_a_refused_grant_breaks_the_connection_once_with_an_event_and_a_reconnect_message(
        adapter: ContaAzulAdapter, fake: FakeContaAzul, engine: sa.Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conta_azul_auth, "SETTLE_PAUSE", 0.01)
    adapter.check()
    fake.revoke()  # the user removed the app in Conta Azul
    with pytest.raises(PermanentError) as caught:
        adapter.check()
    assert caught.value.code == "reconnect_required"
    assert "despacho accounting connect conta-azul" in str(caught.value)
    row = connection(engine)
    assert row.status == "broken" and row.broken_reason is not None and "invalid_grant" in row.broken_reason
    requests = len(fake.token_requests)
    with pytest.raises(PermanentError, match="reconnect"):
        adapter.check()
    assert len(fake.token_requests) == requests  # no retry loop against the token endpoint
    events = auth_failed_events(engine)
    assert len(events) == 1
    assert events[0].payload["system"] == "conta_azul" and events[0].payload["company"] == "default"
    assert "invalid_grant" in events[0].payload["reason"]


def test_reconnecting_repairs_a_broken_connection(adapter: ContaAzulAdapter, fake: FakeContaAzul,
                                                  engine: sa.Engine, connect: Callable[[str], int],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conta_azul_auth, "SETTLE_PAUSE", 0.01)
    adapter.check()
    fake.revoke()
    with pytest.raises(PermanentError):
        adapter.check()
    connect("default")
    adapter.check()
    assert connection(engine).status == "connected" and connection(engine).broken_reason is None


def test_a_company_never_connected_is_told_to_connect(settings: AccountingSettings,
                                                     runtime: AdapterRuntime, fake: FakeContaAzul) -> None:
    with pytest.raises(PermanentError) as caught:
        ContaAzulAdapter(settings, runtime).check()
    assert caught.value.code == "reconnect_required" and fake.requests == []


def test_a_rotation_committed_between_reading_the_row_and_its_secret_is_read_again(
        adapter: ContaAzulAdapter, engine: sa.Engine, box: SecretBox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The race two workers once lost: the old version with the new refresh token, rotated again and lost."""
    import store.secrets

    adapter.check()
    reader = ConnectionStore(lambda: session_scope(engine), box, "default")
    rotator = ConnectionStore(lambda: session_scope(engine), box, "default")
    before = reader.load()
    assert before.tokens is not None and before.version == 1
    rotated = Tokens("at-new", "rt-new", before.tokens.expires_at)
    real_get_secret = store.secrets.get_secret
    calls = []

    def get_secret_after_a_rotation(session: Any, secret_box: SecretBox, name: str) -> str:
        if not calls:  # another worker's rotation commits between the two reads
            assert rotator.store_if_version(1, rotated)
        calls.append(name)
        return real_get_secret(session, secret_box, name)

    monkeypatch.setattr(store.secrets, "get_secret", get_secret_after_a_rotation)
    loaded = reader.load()
    assert loaded.version == 2 and loaded.tokens is not None and loaded.tokens.refresh_token == "rt-new"
    assert len(calls) == 2  # the torn pair was read again
