"""Secrets at rest: connector credentials and OAuth tokens, encrypted with MultiFernet.

The keys live outside the database (``SecretsSettings``: a ``kid:key`` list
from configuration, else ``var/secrets.keys``). The first key encrypts; all
of them decrypt, so a new key can be put in front and the rows re-encrypted
(``rotate``) without a moment where some secret cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from store.errors import NotFound, StoreError
from store.keyring import KeyRing, load_or_create, parse_keys

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models import Secret


class SecretsSettings(BaseModel):
    """``secrets:`` in the config."""

    model_config = ConfigDict(extra="forbid")
    keys: str = Field("", description="kid:fernet-key items, newest first; empty: keys_file")
    keys_file: Path = Field(Path("var/secrets.keys"), description="created on first use when keys is empty")


class SecretUnreadable(StoreError):
    """A stored secret was encrypted with a key that is no longer configured (or was tampered with)."""

    def __init__(self, name: str, key_id: str) -> None:
        super().__init__(f"secret '{name}' cannot be decrypted with the configured keys "
                         f"(it was written with key '{key_id}')")
        self.name = name
        self.key_id = key_id


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def load_ring(settings: SecretsSettings) -> KeyRing:
    if settings.keys.strip():
        return parse_keys(settings.keys, "secrets.keys")
    return load_or_create(settings.keys_file, new_fernet_key, "secrets.keys_file")


class SecretBox:
    """Encrypts with the current key, decrypts with any."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        from cryptography.fernet import Fernet, MultiFernet

        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for _, key in ring.keys])

    @property
    def key_id(self) -> str:
        return self.ring.current[0]

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode("utf-8")

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


# the table and cryptography are imported where they are used: the settings load SecretsSettings
# (every command does) without the ORM

def put_secret(session: Session, box: SecretBox, name: str, value: str) -> Secret:
    from store.models import Secret

    secret = session.get(Secret, name)
    if secret is None:
        secret = Secret(name=name, ciphertext=b"", key_id=box.key_id)
        session.add(secret)
    secret.ciphertext, secret.key_id = box.encrypt(value), box.key_id
    session.flush()
    return secret


def get_secret(session: Session, box: SecretBox, name: str) -> str:
    from cryptography.fernet import InvalidToken

    from store.models import Secret

    secret = session.get(Secret, name)
    if secret is None:
        raise NotFound("secret", name, field="name")
    try:
        return box.decrypt(secret.ciphertext)
    except InvalidToken as exc:
        raise SecretUnreadable(name, secret.key_id) from exc


def delete_secret(session: Session, name: str) -> bool:
    """Forget the secret; ``False`` when there was none."""
    from store.models import Secret

    secret = session.get(Secret, name)
    if secret is None:
        return False
    session.delete(secret)
    session.flush()
    return True


def rotate_secrets(session: Session, box: SecretBox) -> int:
    """Re-encrypt every secret not yet under the current key; returns how many changed."""
    from cryptography.fernet import InvalidToken
    from sqlmodel import select

    from store.models import Secret
    from store.types import utcnow

    changed = 0
    for secret in session.exec(select(Secret).where(Secret.key_id != box.key_id).with_for_update()):
        try:
            secret.ciphertext = box.rotate(secret.ciphertext)
        except InvalidToken as exc:
            raise SecretUnreadable(secret.name, secret.key_id) from exc
        secret.key_id, secret.rotated_at = box.key_id, utcnow()
        changed += 1
    session.flush()
    return changed
