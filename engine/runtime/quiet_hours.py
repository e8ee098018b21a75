"""Quiet hours for the planner: the computation lives in the language, which dry-run shares.

Dry-run (``engine.language``) must not import the runtime, so ``held_until``
moved to ``engine.language.quiet_hours``; this module keeps the runtime's
import path.
"""

from __future__ import annotations

from engine.language.quiet_hours import held_until

__all__ = ["held_until"]
