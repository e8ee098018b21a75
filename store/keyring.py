"""Named keys kept outside the database: ``kid:key`` lines, newest (the one that signs or encrypts) first.

Used for the API's JWT signing keys and the secrets store's Fernet keys. A key
ring may come from configuration (a comma-separated string) or from a file
that despacho creates on first use, readable by its owner only, so a fresh
checkout works without setup and two processes sharing ``var/`` agree.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from store.errors import ValidationFailed

_KID = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``keys[0]`` is the current one, the rest still verify or decrypt."""

    keys: tuple[tuple[str, str], ...]

    @property
    def current(self) -> tuple[str, str]:
        return self.keys[0]

    def get(self, kid: str) -> str | None:
        return dict(self.keys).get(kid)

    def __len__(self) -> int:
        return len(self.keys)


def parse_keys(text: str, field: str) -> KeyRing:
    """``kid:key`` items separated by commas or new lines; raises ``ValidationFailed`` naming ``field``."""
    pairs: list[tuple[str, str]] = []
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    for item in re.split(r"[,\n]", "\n".join(lines)):
        item = item.strip()
        if not item:
            continue
        kid, sep, key = item.partition(":")
        if not sep or not _KID.match(kid) or not key:
            raise ValidationFailed(field, "expected 'kid:key' items (kid: letters, digits, '_', '.', '-')")
        if kid in dict(pairs):
            raise ValidationFailed(field, f"key id '{kid}' appears twice")
        pairs.append((kid, key))
    if not pairs:
        raise ValidationFailed(field, "no keys")
    return KeyRing(tuple(pairs))


def new_kid() -> str:
    return "k" + secrets.token_hex(4)


def load_or_create(path: Path, make_key: Callable[[], str], field: str) -> KeyRing:
    """The ring in ``path``; a missing file is created with one fresh key (mode 0600)."""
    if not path.exists():
        write_ring(path, KeyRing(((new_kid(), make_key()),)))
    return parse_keys(path.read_text(encoding="utf-8"), field)


def prepend_new_key(path: Path, make_key: Callable[[], str], field: str) -> KeyRing:
    """Add a fresh current key in front of the file's keys; the old ones stay to read old data."""
    ring = load_or_create(path, make_key, field)
    rotated = KeyRing(((new_kid(), make_key()), *ring.keys))
    write_ring(path, rotated)
    return rotated


def write_ring(path: Path, ring: KeyRing) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    # created 0600 before anything is written: the keys are never world-readable, even briefly
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# newest first; the first key signs/encrypts, the others still read\n")
        handle.writelines(f"{kid}:{key}\n" for kid, key in ring.keys)
    os.replace(temporary, path)
