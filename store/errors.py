"""Errors the store raises on purpose: each names what was wrong and where."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from errors import DespachoError, PermanentError


class StoreError(DespachoError):
    """Base of the store's errors."""


class NoSuchDatabase(StoreError):
    """The configured SQLite file does not exist; only ``despacho db upgrade`` creates one."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no such database: {path.resolve()}: run `despacho db upgrade` to create it")
        self.path = path


class ValidationFailed(StoreError):
    """A value was refused; ``field`` names it (``customer.phone``, ``order.customer_id``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(StoreError):
    """The record an operation was asked to act on does not exist."""

    def __init__(self, entity: str, record_id: str, *, field: str | None = None) -> None:
        super().__init__(f"{entity} '{record_id}' not found")
        self.entity = entity
        self.record_id = record_id
        self.field = field


class IllegalTransition(StoreError):
    """A service order cannot move from its status to the one asked for."""

    def __init__(self, current: str, target: str, allowed: Iterable[str], *,
                 reason: str | None = None) -> None:
        self.current = current
        self.target = target
        self.allowed = tuple(sorted(allowed))
        choices = ", ".join(self.allowed) or "none: it is final"
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"status: cannot go from '{current}' to '{target}'{detail}; allowed from '{current}': {choices}"
        )
        self.field = "status"


class NoEligibleTechnician(PermanentError):
    """No technician can take the order; permanent, so a rule's fallback runs at once."""

    def __init__(self, order_id: str, reasons: dict[str, int]) -> None:
        summary = ", ".join(f"{why}: {count}" for why, count in sorted(reasons.items()))
        super().__init__(
            f"no eligible technician for order '{order_id}'" + (f" (excluded {summary})" if summary else ""),
            code="no_eligible_technician",
        )
        self.order_id = order_id
        self.reasons = reasons
