"""Google event ids derived from despacho's idempotency keys.

Google lets the client choose an event's id (base32hex: the letters a–v and the digits
0–9, 5 to 1024 characters). Deriving it from the idempotency key makes a retried insert
collide with the first one (409 ``duplicate``) instead of creating a second event.
"""

from __future__ import annotations

import base64
import hashlib
import re

# Google's rule for client-chosen ids (events.insert): lowercase base32hex, 5 to 1024 characters
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_PREFIX = "dsp"  # 'd', 's', 'p' are base32hex letters: our events are recognisable at a glance


def event_id_for(idempotency_key: str) -> str:
    """``dsp`` + 52 base32hex characters of the key's SHA-256 (256 bits, unpadded)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    encoded = base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()
    return _PREFIX + encoded


def is_valid_event_id(value: str) -> bool:
    return EVENT_ID.match(value) is not None
