"""The web console's records: its users and their sessions, and the stored integration checks.

A session row is keyed by the SHA-256 of the cookie's random token, so the database never holds
a value that would let someone who reads it log in; logging out deletes the row.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

CONSOLE_ROLES = ("admin", "viewer")


class ConsoleUser(Record, table=True):
    """A person who logs into the console. ``failed_logins`` counts failures since the last success;
    reaching the limit sets ``locked_until``."""

    __tablename__ = "console_users"
    entity: ClassVar[str] = "console_user"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "name": check_required, "role": partial(check_choice, choices=CONSOLE_ROLES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(default="viewer", max_length=20)
    password_hash: str = Field(max_length=200)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = timestamp()
    last_login_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    disabled_at: datetime | None = timestamp()


class ConsoleSession(Record, table=True):
    """A logged-in browser. Index: ``user_id`` (a user's sessions, ended when the user is disabled)."""

    __tablename__ = "console_sessions"
    entity: ClassVar[str] = "console_session"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 hex of the cookie's token")
    user_id: str = Field(foreign_key="console_users.id", index=True, max_length=36)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = timestamp(default_now=True)
    expires_at: datetime = timestamp(nullable=False, index=True)
    last_seen_at: datetime = timestamp(default_now=True)


class IntegrationCheck(Record, table=True):
    """One run of a connector's check (the same as ``despacho check``), kept for the Status page.

    Index: ``(connector, checked_at)`` (each connector's latest checks, its error rate).
    """

    __tablename__ = "integration_checks"
    __table_args__ = (sa.Index(None, "connector", "checked_at"),)
    entity: ClassVar[str] = "integration_check"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    connector: str = Field(max_length=50)
    ok: bool
    latency_ms: float
    target: str = Field(default="", max_length=500)
    detail: str = Field(default="", max_length=2000)
    error: str = Field(default="", max_length=2000)
    checked_at: datetime = timestamp(default_now=True)
    extra: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
