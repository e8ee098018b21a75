"""Running rules: stored events become runs, runs become steps, steps become effects.

``intake`` (events stored) → ``relay`` (stored events to plans) → ``planner``
(run and step rows) → ``outbox`` (after-commit sends) → ``runner`` (claim →
call → record, on Dramatiq) with ``steps`` (how a run moves along its step
tree) and ``leases``; ``reaper`` beside them; ``scheduler`` and ``leader``
fire schedules; ``compose`` builds them all for every face, ``daemon`` runs
them. The names below are what the faces use; each loads on first use.
"""

from engine._lazy import lazy_exports

_EXPORTS = {
    "Core": "engine.runtime.compose",
    "build_core": "engine.runtime.compose",
    "Daemon": "engine.runtime.daemon",
    "Parts": "engine.runtime.daemon",
    "Transaction": "engine.runtime.outbox",
    "accept_events": "engine.runtime.intake",
    "read_status": "engine.runtime.status",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
