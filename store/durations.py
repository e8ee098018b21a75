"""Durations in the admins' notation (``30s``, ``15m``, ``2h``, ``1d``, ``1h30m``).

The one implementation: the store sits at the bottom of the dependency
graph, so the engine (rule options, delays) reads durations from here too.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(\d+[smhdw])+$")


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raises ``ValueError`` with the accepted form in the message."""
    compact = text.strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(
            f"invalid duration '{text}': use a number and a unit (s, m, h, d, w), e.g. '15m' or '1h30m'"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"invalid duration '{text}': it must be longer than zero")
    return timedelta(seconds=seconds)
