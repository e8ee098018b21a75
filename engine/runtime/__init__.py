"""Running rules: stored events become runs, runs become steps, steps become effects.

``intake`` (events stored) → ``relay`` (stored events to plans) → ``planner``
(run and step rows) → ``outbox`` (after-commit sends) → ``runner`` (claim →
call → record, on Dramatiq); ``reaper`` (leases) beside them; ``scheduler``
and ``leader`` fire schedules; ``compose`` builds them for every face.
"""
