"""The service-order life cycle: which status may follow which.

```
            ┌──────────────────── on_hold ◄──────────────────┐ (from any live status)
            ▼                        │                        │
  open ──► assigned ──► scheduled ──► in_progress ──► completed
   ▲          │  ▲          │
   └──────────┘  └──────────┘   (unassign / reschedule)
  any live status ──► cancelled
```

``completed`` and ``cancelled`` are final. ``assigned``, ``scheduled`` and
``in_progress`` need a technician (``assign_technician`` sets one); going
back to ``open`` releases the technician.
"""

from __future__ import annotations

from collections.abc import Mapping

from store.errors import IllegalTransition

ORDER_STATUSES = ("open", "assigned", "scheduled", "in_progress", "on_hold", "completed", "cancelled")
TERMINAL_STATUSES = ("completed", "cancelled")
NEEDS_TECHNICIAN = ("assigned", "scheduled", "in_progress")

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"assigned", "on_hold", "cancelled"}),
    "assigned": frozenset({"open", "scheduled", "in_progress", "on_hold", "cancelled"}),
    "scheduled": frozenset({"assigned", "in_progress", "on_hold", "cancelled"}),
    "in_progress": frozenset({"completed", "on_hold", "cancelled"}),
    "on_hold": frozenset({"open", "assigned", "scheduled", "in_progress", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


def check_transition(current: str, target: str, *, has_technician: bool) -> None:
    """Raise ``IllegalTransition`` unless ``current`` → ``target`` is allowed."""
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in ORDER_STATUSES:
        raise IllegalTransition(current, target, allowed, reason="unknown status")
    if target not in allowed:
        raise IllegalTransition(current, target, allowed)
    if target in NEEDS_TECHNICIAN and not has_technician:
        raise IllegalTransition(current, target, allowed,
                                reason="the order has no technician: assign one first")
