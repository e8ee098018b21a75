"""The ``file`` transport: each message despacho would send, as one JSON file.

The embedded default writes under ``var/outbox/<channel>/``. The file name
comes from the idempotency key, and it is created exclusively, so a step run
twice (a redelivered message, a retry after a crash) writes it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def outbox_path(outbox: Path, channel: str, idempotency_key: str) -> Path:
    readable = _UNSAFE.sub("_", idempotency_key)[:80]
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return outbox / channel / f"{readable}-{digest}.json"


def write_once(outbox: Path, channel: str, idempotency_key: str,
               message: dict[str, Any]) -> tuple[Path, bool]:
    """Write the message unless this key already has a file; returns (path, written)."""
    path = outbox_path(outbox, channel, idempotency_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"idempotency_key": idempotency_key, "written_at": datetime.now(UTC).isoformat(), **message}
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    try:
        # link() fails if the name exists: exactly one writer wins, readers never see half a file
        os.link(temporary, path)
    except FileExistsError:
        return path, False
    finally:
        temporary.unlink(missing_ok=True)
    return path, True
