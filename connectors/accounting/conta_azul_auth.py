"""Conta Azul access tokens for one connected company: cached, refreshed, rotated safely.

Conta Azul rotates the refresh token on every refresh, so losing the newest one loses the
connection. The grant lives in ``accounting_connections`` (one row per system + company) and the
tokens, encrypted, in ``secrets`` under the row's ``secret_name``. A refresh is stored with a
compare-and-set on ``token_version`` in the same transaction as the new secret: of two workers
refreshing at once exactly one stores; the other re-reads and uses the winner's tokens.

What happens when the answer to a refresh is lost (the process dies, the connection drops) after
Conta Azul rotated: the stored refresh token is the previous one. Conta Azul (AWS Cognito
underneath) keeps accepting the previous refresh token for a grace window, answering the
current pair, so the next refresh with the stored token succeeds and the connection survives. A
refresh answered ``invalid_grant`` when no other worker moved the version on means the grant is
gone: the connection is marked broken once (with an ``accounting.auth_failed`` event) and every
call fails at once with a permanent error saying to reconnect; nothing loops on it.

Access tokens are cached per process, keyed by company and ``token_version``, until a minute
before they expire.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from connectors.accounting.conta_azul_oauth import InvalidGrant, TokenEndpoint, Tokens
from errors import PermanentError, TransientError

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import CursorResult
    from sqlmodel import Session

    from store.secrets import SecretBox

SYSTEM = "conta_azul"
COMPANY = re.compile(r"^[^\W_][\w .-]{0,99}$")  # letters of any script (São, Pão), digits
_LOAD_ATTEMPTS = 5  # each retry follows a rotation that committed mid-read; five in a row is no race
SETTLE_PAUSE = 0.5  # before believing invalid_grant: the winner of a race may be committing

SessionFactory = Callable[[], AbstractContextManager["Session"]]


def check_company(company: str) -> str:
    """A company name fit for a secret's name and a log line; anything else refused."""
    if not COMPANY.fullmatch(company or ""):
        raise PermanentError(f"company name {company[:40]!r} is not allowed: use 1-100 letters, digits, "
                             "spaces, '.', '_' or '-', starting with a letter or digit", code="bad_company")
    return company


def secret_name(company: str) -> str:
    return f"accounting/{SYSTEM}/{check_company(company)}"


@dataclass(frozen=True)
class Stored:
    version: int
    status: str
    reason: str | None
    tokens: Tokens | None


def reconnect_error(company: str, reason: str | None) -> PermanentError:
    flag = "" if company == "default" else f" --company '{company}'"
    why = reason or "no grant"
    return PermanentError(f"the Conta Azul connection of company '{company}' is broken ({why}); "
                          f"reconnect with: despacho accounting connect conta-azul{flag}",
                          code="reconnect_required")


class ConnectionStore:
    """The grant's row and secret; every write is one transaction."""

    def __init__(self, sessions: SessionFactory, box: SecretBox, company: str) -> None:
        self.sessions = sessions
        self.box = box
        self.company = check_company(company)

    def load(self) -> Stored:
        """The row and its tokens as one worker stored them.

        The row and the secret are two reads, and each sees the latest commit (SQLite runs a
        SELECT outside any transaction, PostgreSQL reads committed): a rotation committed
        between them paired the old version with the new refresh token, which was then rotated
        again and lost. Every rotation bumps the version in the transaction that writes the
        secret, so an unchanged version after reading the secret means the pair is whole.
        """
        for _ in range(_LOAD_ATTEMPTS):
            stored = self._read()
            if stored.tokens is None or self._version() == stored.version:
                return stored
        raise TransientError("the Conta Azul tokens kept changing while being read; try again")

    def _read(self) -> Stored:
        from store.secrets import get_secret

        with self.sessions() as session:
            row = self._row(session)
            if row is None:
                return Stored(0, "missing", "never connected", None)
            tokens = None
            if row.secret_name and row.status == "connected":
                tokens = Tokens.from_secret(json.loads(get_secret(session, self.box, row.secret_name)))
            return Stored(row.token_version, row.status, row.broken_reason, tokens)

    def _version(self) -> int | None:
        from sqlmodel import select

        from store.models.accounting import AccountingConnection

        with self.sessions() as session:
            return session.exec(select(AccountingConnection.token_version).where(
                AccountingConnection.system == SYSTEM, AccountingConnection.company == self.company)).first()

    def connect(self, tokens: Tokens) -> int:
        """Store a new grant (the connect command): a fresh start whatever the row held."""
        from store.models.accounting import AccountingConnection
        from store.secrets import put_secret

        with self.sessions() as session:
            row = self._row(session, lock=True)
            if row is None:
                row = AccountingConnection(system=SYSTEM, company=self.company)
                session.add(row)
            row.secret_name = secret_name(self.company)
            row.token_version += 1
            row.status, row.broken_reason, row.token_expires_at = "connected", None, tokens.expires_at
            put_secret(session, self.box, row.secret_name, json.dumps(tokens.as_secret()))
            return int(row.token_version)

    def store_if_version(self, version: int, tokens: Tokens) -> bool:
        """Compare-and-set: store the rotated tokens only if nobody did since ``version`` was read."""
        from store.secrets import put_secret

        with self.sessions() as session:
            if not self._update_if_version(session, version, token_version=version + 1,
                                           token_expires_at=tokens.expires_at):
                return False
            put_secret(session, self.box, secret_name(self.company), json.dumps(tokens.as_secret()))
            return True

    def mark_broken(self, version: int, reason: str) -> bool:
        """Broken, once: ``True`` for the call that broke it (and recorded the event)."""
        from store.eventlog import record_event

        with self.sessions() as session:
            if not self._update_if_version(session, version, status="broken", broken_reason=reason[:500]):
                return False
            record_event(session, "accounting.auth_failed",
                         {"system": SYSTEM, "company": self.company, "reason": reason[:500]})
            return True

    def _update_if_version(self, session: Session, version: int, **values: Any) -> bool:
        """Change the connected row only if its token version is still ``version`` (one statement)."""
        import sqlalchemy as sa

        from store.models.accounting import AccountingConnection
        from store.types import utcnow

        table = AccountingConnection.__table__
        result = session.execute(
            sa.update(table)
            .where(table.c.system == SYSTEM, table.c.company == self.company,
                   table.c.token_version == version, table.c.status == "connected")
            .values(**values, updated_at=utcnow()))
        return cast("CursorResult[Any]", result).rowcount == 1

    def _row(self, session: Session, lock: bool = False) -> Any:
        from sqlmodel import select

        from store.models.accounting import AccountingConnection

        query = select(AccountingConnection).where(AccountingConnection.system == SYSTEM,
                                                   AccountingConnection.company == self.company)
        return session.exec(query.with_for_update() if lock else query).first()


# per process: (token_uri, company) -> (token_version, tokens)
_CACHE: dict[tuple[str, str], tuple[int, Tokens]] = {}
_CACHE_LOCK = threading.Lock()


class AccessTokens:
    """The access token to send now, and a refreshed one after a 401."""

    def __init__(self, store: ConnectionStore, endpoint: TokenEndpoint,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.endpoint = endpoint
        self.clock = clock
        self._key = (endpoint.settings.token_uri, store.company)

    def current(self) -> tuple[int, str]:
        with _CACHE_LOCK:
            cached = _CACHE.get(self._key)
        if cached and cached[1].fresh(self.clock()):
            return cached[0], cached[1].access_token
        return self._obtain(stale_version=None)

    def refreshed(self, stale_version: int) -> tuple[int, str]:
        """After a 401 on the token of ``stale_version``: someone else's newer token, or a refresh."""
        return self._obtain(stale_version=stale_version)

    def _obtain(self, stale_version: int | None, settled: bool = False) -> tuple[int, str]:
        stored = self.store.load()
        if stored.status != "connected" or stored.tokens is None:
            raise reconnect_error(self.store.company, stored.reason)
        if stored.tokens.fresh(self.clock()) and stored.version != stale_version:
            return self._remember(stored.version, stored.tokens)
        try:
            tokens = self.endpoint.refresh(stored.tokens.refresh_token, self.clock())
        except InvalidGrant as exc:
            return self._after_invalid_grant(stored.version, exc, settled)
        if self.store.store_if_version(stored.version, tokens):
            return self._remember(stored.version + 1, tokens)
        winner = self.store.load()  # lost the race: the winner's tokens are the valid ones
        if winner.tokens is None or winner.status != "connected":
            raise reconnect_error(self.store.company, winner.reason)
        return self._remember(winner.version, winner.tokens)

    def _after_invalid_grant(self, version: int, exc: InvalidGrant, settled: bool) -> tuple[int, str]:
        if not settled:  # another worker may have rotated the token and be storing it right now
            time.sleep(SETTLE_PAUSE)
            if self.store.load().version != version:
                return self._obtain(stale_version=None, settled=True)
        reason = f"invalid_grant: {exc.description}"[:500]
        self.store.mark_broken(version, reason)
        self.forget()
        raise reconnect_error(self.store.company, reason) from exc

    def _remember(self, version: int, tokens: Tokens) -> tuple[int, str]:
        with _CACHE_LOCK:
            cached = _CACHE.get(self._key)
            if cached is None or cached[0] <= version:
                _CACHE[self._key] = (version, tokens)
        return version, tokens.access_token

    def forget(self) -> None:
        with _CACHE_LOCK:
            _CACHE.pop(self._key, None)


def forget_all() -> None:
    """Empty the process cache (a new grant from ``connect``; tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()
