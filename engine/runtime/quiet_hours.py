"""Quiet hours: a message due inside the window is held until the window ends, in the recipient's zone.

The planner asks when a run starts; the runner asks again before every
message step (a ``delay``, a retry or a queue can bring a message into the
window long after planning). ``max_hold`` turns a hold that would be too
long into a drop, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from engine.language.models import QuietHours
from engine.language.quiet_hours import held_until
from engine.language.recipients import RecipientZone, recipient_zone
from store.durations import parse_duration

log = structlog.get_logger("despacho.quiet_hours")

QUIET_REASON = "quiet hours"  # hold reasons start with it: a released step knows it was held by them


@dataclass(frozen=True, slots=True)
class QuietHold:
    until: datetime
    reason: str  # "quiet hours 21:00–08:00 America/Manaus", fits hold_reason
    dropped: str | None = None  # set when max_hold is exceeded: why the message is not sent at all


def quiet_hold(quiet: QuietHours, data: dict[str, Any], now: datetime, default_zone: str) -> QuietHold | None:
    """The hold ``quiet`` puts on a message due ``now`` to the recipient in ``data``, if any."""
    who = recipient_zone(data, quiet.recipient, quiet.time_zone or default_zone)
    if who.problem:
        log.warning("recipient_time_zone_unusable", problem=who.problem, used=who.zone)
    until = held_until(quiet, now, who.zone)
    if until is None:
        return None
    reason = hold_reason(quiet, who)
    dropped = None
    if quiet.max_hold is not None and until - now > parse_duration(quiet.max_hold):
        local = until.astimezone(ZoneInfo(who.zone)).strftime("%Y-%m-%d %H:%M")
        dropped = f"{reason}: would be held until {local}, longer than max_hold {quiet.max_hold}"
    return QuietHold(until, reason, dropped[:500] if dropped else None)


def hold_reason(quiet: QuietHours, who: RecipientZone) -> str:
    reason = f"{QUIET_REASON} {quiet.from_}–{quiet.to} {who.zone}"
    if who.problem:
        reason += f" ({who.problem}; used {who.zone})"
    return reason[:300]


__all__ = ["QUIET_REASON", "QuietHold", "held_until", "hold_reason", "quiet_hold"]
