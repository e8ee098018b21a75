"""Console users and sessions: argon2 passwords, a lockout after repeated failures, revocable sessions.

A login verifies the password against the argon2 hash (an unknown name costs the same, against a
dummy hash, so timing does not tell which names exist). ``MAX_FAILURES`` failures in a row lock the
account for ``LOCKOUT``; while locked even the right password is refused, with the same message.

A session is a random 256-bit token in the browser's cookie; the row is keyed by its SHA-256, so
reading the database does not give anyone a usable cookie, and a forged cookie finds no row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from store.errors import StoreError, ValidationFailed
from store.models.console import CONSOLE_ROLES, ConsoleSession, ConsoleUser
from store.types import utcnow

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD = 10
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")


class LoginRefused(StoreError):
    """Unknown name, wrong password, disabled or locked account: the caller is not told which."""

    def __init__(self) -> None:
        super().__init__("usuário ou senha inválidos, ou conta bloqueada temporariamente")


@dataclass(frozen=True)
class SessionInfo:
    user_id: str
    name: str
    role: str
    csrf_token: str

    @property
    def actor(self) -> str:
        return f"user:{self.name}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def create_user(session: Session, name: str, role: str, password: str) -> ConsoleUser:
    if not NAME_PATTERN.match(name):
        raise ValidationFailed("name", "lower-case letters, digits, '_', '.', '-' (up to 100), e.g. 'maria'")
    if role not in CONSOLE_ROLES:
        raise ValidationFailed("role", f"'{role}' is not one of: {', '.join(CONSOLE_ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("password", f"at least {MIN_PASSWORD} characters")
    if session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first() is not None:
        raise ValidationFailed("name", f"a user named '{name}' already exists")
    user = ConsoleUser(name=name, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def check_login(session: Session, name: str, password: str) -> ConsoleUser:
    """The user when NAME and PASSWORD match an enabled, unlocked account; else ``LoginRefused``
    (after counting the failure: the caller must commit even then)."""
    user = session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()
    if user is None or user.disabled_at is not None:
        _verify(_DUMMY_HASH, password)
        raise LoginRefused()
    now = utcnow()
    locked = user.locked_until is not None and user.locked_until > now
    if locked or not _verify(user.password_hash, password):
        if not locked:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
        session.add(user)
        raise LoginRefused()
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    session.add(user)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def open_session(session: Session, user: ConsoleUser) -> tuple[str, SessionInfo]:
    """A new session for USER: (the cookie's token, the session)."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(id=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                         expires_at=utcnow() + SESSION_TTL)
    session.add(row)
    return token, SessionInfo(user.id, user.name, user.role, row.csrf_token)


def find_session(session: Session, token: str) -> SessionInfo | None:
    """The live session of TOKEN, or ``None`` (unknown, expired, or its user disabled)."""
    if not token or len(token) > 100:
        return None
    found = session.exec(
        select(ConsoleSession, ConsoleUser).join(ConsoleUser, col(ConsoleUser.id) == ConsoleSession.user_id)
        .where(ConsoleSession.id == _digest(token))).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= utcnow() or user.disabled_at is not None:
        return None
    return SessionInfo(user.id, user.name, user.role, row.csrf_token)


def close_session(session: Session, token: str) -> None:
    row = session.get(ConsoleSession, _digest(token))
    if row is not None:
        session.delete(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
