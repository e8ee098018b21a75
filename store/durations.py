"""Durations in the admins' notation (``30s``, ``15m``, ``2h``, ``1d``, ``1h30m``).

The same grammar as ``engine/durations.py``; repeated here because the store
sits below the engine and imports nothing from it.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(\d+[smhdw])+$")


def parse_duration(text: str) -> timedelta:
    compact = text.strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(f"invalid duration '{text}': use a number and a unit (s, m, h, d, w), e.g. '2h'")
    return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(compact)))
