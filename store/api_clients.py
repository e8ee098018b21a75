"""API clients: created with a secret shown once, authenticated against its argon2 hash.

``client_id`` is the row's ``key_prefix``: public, random, and unique, so a
token request finds its row with one indexed read before the (deliberately
slow) hash check.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from store.errors import NotFound, StoreError, ValidationFailed
from store.models import ApiClient
from store.types import utcnow

CLIENT_ID_PREFIX = "dc_"
_hasher = PasswordHasher()
# verified against when the client id is unknown, so both failures cost the same time
_DUMMY_HASH = _hasher.hash("not a real secret")


class InvalidCredentials(StoreError):
    """Unknown client id, wrong secret, or a revoked client: the caller is not told which."""

    def __init__(self) -> None:
        super().__init__("invalid client credentials")


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    secret: str  # shown once; only its hash is stored


def create_client(session: Session, name: str, scopes: Iterable[str], *,
                  known_scopes: Iterable[str]) -> NewClient:
    wanted = sorted(set(scopes))
    known = set(known_scopes)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValidationFailed("api_client.scopes", f"unknown scope(s) {', '.join(unknown)}; "
                                                    f"known: {', '.join(sorted(known))}")
    if not wanted:
        raise ValidationFailed("api_client.scopes", "give at least one scope")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(name=name, key_prefix=CLIENT_ID_PREFIX + secrets.token_hex(6),
                       key_hash=_hasher.hash(secret), scopes=wanted)
    session.add(client)
    session.flush()
    return NewClient(client, secret)


def authenticate(session: Session, client_id: str, secret: str) -> ApiClient:
    client = session.exec(select(ApiClient).where(ApiClient.key_prefix == client_id)).first()
    try:
        _hasher.verify(client.key_hash if client else _DUMMY_HASH, secret)
    except (VerificationError, InvalidHashError) as exc:
        raise InvalidCredentials() from exc
    if client is None or not is_active(client):
        raise InvalidCredentials()
    client.last_used_at = utcnow()
    return client


def is_active(client: ApiClient) -> bool:
    return client.revoked_at is None and client.deleted_at is None


def find_client(session: Session, client_id: str) -> ApiClient:
    client = session.exec(select(ApiClient).where(ApiClient.key_prefix == client_id)).first()
    if client is None:
        raise NotFound("api_client", client_id, field="client_id")
    return client


def revoke_client(session: Session, client_id: str) -> ApiClient:
    """Revoking twice is harmless: the first time is kept."""
    client = find_client(session, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
    return client


def list_clients(session: Session, *, include_revoked: bool = False) -> Sequence[ApiClient]:
    statement = select(ApiClient).where(ApiClient.deleted_at.is_(None)).order_by(ApiClient.created_at)
    if not include_revoked:
        statement = statement.where(ApiClient.revoked_at.is_(None))
    return session.exec(statement).all()
