"""Conta Azul's answers as despacho's error kinds: 429 and 5xx retry, 4xx validation does not."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from errors import PermanentError, TransientError

MAX_RETRY_AFTER = 3600.0  # a vendor's Retry-After beyond an hour is not believed
MAX_MESSAGE = 300


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), bounded to an hour; None when absent."""
    if not value:
        return None
    text = value.strip()[:64]
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def message_of(body: Any) -> str:
    """The vendor's words, whatever shape its error body takes, bounded and on one line."""
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "error_description", "mensagem", "error"):
            value = body.get(key)
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, dict) and isinstance(value.get("message"), str):
                parts.append(value["message"])
        for item in (body.get("errors") or [])[:5] if isinstance(body.get("errors"), list) else []:
            if isinstance(item, dict):
                parts.append(str(item.get("message") or item.get("mensagem") or item)[:100])
    text = "; ".join(dict.fromkeys(parts)) or "no message"
    return " ".join(text.split())[:MAX_MESSAGE]


def classify(status: int, body: Any, retry_after: str | None, operation: str) -> Exception:
    """The error to raise for a failed answer (the caller already retried a 401 once)."""
    text = f"Conta Azul {operation}: {status} {message_of(body)}"
    if status == 429:
        return TransientError(text, retry_after=retry_after_seconds(retry_after) or 1.0)
    if status >= 500 or status == 408:
        return TransientError(text, retry_after=retry_after_seconds(retry_after))
    codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "duplicate"}
    return PermanentError(text, code=codes.get(status, "validation"))
