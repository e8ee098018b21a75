"""API clients: created with a secret shown once, authenticated against its argon2 hash.

``client_id`` is the row's ``key_prefix``: public, random, and unique, so a
token request finds its row with one indexed read before the (deliberately
slow) hash check.

A client also says which events it may send through ``POST /v1/events``:
``event_types``, patterns where ``*`` matches any run of characters (``[]``:
none), and ``event_source``, the source every event it sends carries (its
name as a slug unless given). Reserved sources (``store.reserved_events``)
are refused here, so no client can pass for the scheduler or a webhook.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from store.errors import NotFound, StoreError, ValidationFailed
from store.models import ApiClient
from store.reserved_events import reserved_source
from store.types import utcnow

CLIENT_ID_PREFIX = "dc_"
FALLBACK_SOURCE = "api"  # a name with nothing left as a slug, or a reserved one
EVENT_TYPE_PATTERN = re.compile(r"^[a-z0-9_.*]{1,100}$")
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
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
                  known_scopes: Iterable[str], event_types: Iterable[str] = (),
                  event_source: str | None = None) -> NewClient:
    """A new client; ``event_types`` empty means it may send no event until given some."""
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
                       key_hash=_hasher.hash(secret), scopes=wanted,
                       event_types=check_event_types(event_types),
                       event_source=check_event_source(event_source if event_source is not None
                                                       else source_from_name(name)))
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


def set_event_permissions(session: Session, client_id: str, *, event_types: Iterable[str] | None = None,
                          event_source: str | None = None) -> ApiClient:
    """Change what a client may send; what is not given stays. API processes see it within seconds."""
    client = find_client(session, client_id)
    if event_types is not None:
        client.event_types = check_event_types(event_types)
    if event_source is not None:
        client.event_source = check_event_source(event_source)
    return client


def check_event_types(patterns: Iterable[str]) -> list[str]:
    wanted = sorted(set(patterns))
    bad = [p for p in wanted if not EVENT_TYPE_PATTERN.match(p)]
    if bad:
        raise ValidationFailed("api_client.event_types",
                               f"{', '.join(repr(p) for p in bad)}: an event type pattern uses a-z, 0-9, "
                               "'_', '.' and '*' (any run of characters), e.g. 'service_order.*'")
    return wanted


def check_event_source(source: str) -> str:
    if not SOURCE_PATTERN.match(source):
        raise ValidationFailed("api_client.event_source",
                               f"{source!r}: a source uses a-z, 0-9, '_', '.' and '-' (at most 100), "
                               "e.g. 'erp'")
    owner = reserved_source(source)
    if owner is not None:
        raise ValidationFailed("api_client.event_source", f"{source!r} is reserved for {owner}")
    return source


def source_from_name(name: str) -> str:
    """``ERP Omie`` → ``erp-omie``: the default source of a client's events."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ascii_name.lower()).strip("-._")[:100]
    return slug if SOURCE_PATTERN.match(slug) and reserved_source(slug) is None else FALLBACK_SOURCE
