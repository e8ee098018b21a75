"""Secrets at rest: encrypted with the current key, readable with any configured one."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session

from store.keyring import KeyRing
from store.models import Secret
from store.secrets import SecretBox, SecretUnreadable, get_secret, put_secret, rotate_secrets


def ring(*kids: str) -> tuple[KeyRing, dict[str, str]]:
    keys = {kid: Fernet.generate_key().decode() for kid in kids}
    return KeyRing(tuple(keys.items())), keys


def test_a_secret_is_stored_encrypted_and_read_back(session: Session) -> None:
    box = SecretBox(ring("a")[0])
    put_secret(session, box, "smtp.password", "hunter2")
    session.flush()
    stored = session.get(Secret, "smtp.password")
    assert b"hunter2" not in stored.ciphertext and stored.key_id == "a"
    assert get_secret(session, box, "smtp.password") == "hunter2"


def test_rotation_moves_every_secret_to_the_new_key(session: Session) -> None:
    old, keys = ring("a")
    put_secret(session, SecretBox(old), "x", "1")
    new = SecretBox(KeyRing((("b", Fernet.generate_key().decode()), ("a", keys["a"]))))
    assert rotate_secrets(session, new) == 1
    assert rotate_secrets(session, new) == 0
    only_new = SecretBox(KeyRing((new.ring.current,)))
    assert get_secret(session, only_new, "x") == "1"


def test_a_secret_under_a_removed_key_is_reported_not_returned(session: Session) -> None:
    put_secret(session, SecretBox(ring("a")[0]), "x", "1")
    with pytest.raises(SecretUnreadable, match="key 'a'"):
        get_secret(session, SecretBox(ring("b")[0]), "x")
