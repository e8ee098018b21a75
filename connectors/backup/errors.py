"""What can go wrong with a backup, as kinds of ``DespachoError`` (messages never hold the password)."""

from __future__ import annotations

from errors import DespachoError


class BackupError(DespachoError):
    """A backup, check, restore or retention run failed."""

    def __init__(self, message: str, *, reason: str = "failed") -> None:
        super().__init__(message)
        self.reason = reason  # a short word for events and /ready: failed, corrupted, unavailable...


class RepositoryUnavailable(BackupError):
    """The repository cannot be opened: missing, unreachable, or the password does not open it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="unavailable")


class NoRepository(RepositoryUnavailable):
    """There is no repository at the configured location (yet): ``backup run`` creates it."""


class BackupCorrupted(BackupError):
    """The repository or a snapshot failed verification; nothing from it may be restored."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="corrupted")


class UnsafeInput(BackupError):
    """A snapshot id, path or target that could escape where it must stay."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="refused")
