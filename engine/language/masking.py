"""Rendered params as the step row and its dead letter keep them: secrets and personal data masked.

Rule files hold no secrets, but rendered params can carry one: an
``Authorization`` header of an ``http.request``, a token in a URL's query or
its user-info, a value from event data under a key named like a password.
They also carry people's phones, emails and tax ids, which a trace needs
no more than a password (``personal_data``): those are masked too. The
connector is called with the params as rendered; only the record is masked.
What ``dlq show`` and ``runs show`` print must never give them away, so they
are replaced by ``***`` before the row is written. The walk is bounded: past
``MAX_DEPTH`` a value is dropped, not copied.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from personal_data import mask_text

MASK = "***"
MAX_DEPTH = 20
_SECRET_KEY = re.compile(r"auth|token|secret|passw|pwd|api[-_]?key|apikey|signature|cookie|credential|"
                         r"private[-_]?key|session", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def secret_key(name: object) -> bool:
    return isinstance(name, str) and _SECRET_KEY.search(name) is not None


def mask_params(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret-looking entry masked (a new structure; ``value`` is left alone)."""
    if depth > MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        return {key: MASK if secret_key(key) and item not in (None, "") else mask_params(item, depth + 1)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_params(item, depth + 1) for item in value]
    if isinstance(value, str):
        return mask_text(mask_url(value) if _URL.match(value) else value)
    return value


def mask_url(url: str) -> str:
    """A URL with its password and its secret-looking query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(secret_key(key) for key, _ in pairs):
            query = urlencode([(key, MASK if secret_key(key) else item) for key, item in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
