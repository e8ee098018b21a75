"""The root of despacho's error tree, below every layer.

The store, the connectors, the engine and the faces all raise errors derived
from ``DespachoError``; the kinds a connector raises (transient or permanent)
are here too because the store raises them as well (``NoEligibleTechnician``)
and dependencies point down only.
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


class SyncTokenExpired(PermanentError):
    """Google no longer accepts a calendar's sync token (410 ``fullSyncRequired``): list everything again.

    Permanent for the call that got it (repeating it fails the same way); the sync code
    catches it and starts a full sync instead of retrying.
    """

    def __init__(self, calendar_id: str) -> None:
        super().__init__(f"calendar '{calendar_id}': the sync token expired, a full sync is required",
                         code="sync_token_expired")
        self.calendar_id = calendar_id


class SendRefused(PermanentError):
    """A message the law or the recipient forbids (marketing without consent, an address on the
    suppression list): not a failure to retry or to fall back on, so the step ends skipped with
    this as its reason and no transport is called."""
