"""Error classes shared by connectors and the engine.

This module is the root of despacho's error tree. It sits under
``connectors`` because dependencies point down: the engine may import
connectors, never the reverse.
"""

from __future__ import annotations


class DespachoError(Exception):
    """Base of every error despacho raises on purpose."""


class ConnectorError(DespachoError):
    """An action failed in a connector."""


class TransientError(ConnectorError):
    """A failure worth retrying (timeouts, 429, 5xx, SMTP 4xx)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """A failure that retrying cannot fix (invalid number, opted out, SMTP 5xx)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
