"""Before a claimed step is called: is it time yet?

In order: ``delay_until`` (rendered once, when the step is first due; the
time is kept in the step's ``not_before``, so a restart loses no wait); then,
for a step released from quiet hours with ``recheck: true``, the rule's
``if:`` once more; then, for a message step (email, SMS, WhatsApp), the
rule's quiet hours in the recipient's zone, whatever brought the step here
(a ``delay``, a retry, a queue). Everything is decided from the claim and the
rule in memory: no query is added to a step's path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.language.conditions import ConditionEvaluationError
from engine.language.context import EvaluationContext
from engine.language.filters import parse_time
from engine.language.ruleset import CompiledAction, CompiledRule
from engine.language.templating import TemplateRenderError
from engine.runtime.outcomes import Hold, Outcome, Success, Withdrawn
from engine.runtime.quiet_hours import QUIET_REASON, quiet_hold
from errors import PermanentError
from store.run_lifecycle import StepStatus

DELAY_UNTIL_REASON = "delay_until"
MESSAGE_CHANNELS = frozenset({"email", "sms", "whatsapp"})


def before_call(step: Any, rule: CompiledRule, action: CompiledAction, context: EvaluationContext,
                steps: dict[str, Any], default_zone: str) -> Outcome | None:
    """What happens instead of the call, or ``None`` when the step runs now.

    ``step`` is the claimed row (``not_before``, ``hold_reason``). Raises ``PermanentError`` for a
    ``delay_until`` that does not render to a time.
    """
    now = context.now
    if action.delay_until is not None and step.not_before is None:
        until = _delay_until(action, context.for_actions(rule.id, steps), default_zone)
        if until > now:
            return Hold(until, f"{DELAY_UNTIL_REASON} {until.isoformat(timespec='minutes')}")
    quiet = rule.rule.quiet_hours
    if quiet is None:
        return None
    if quiet.recheck and rule.condition is not None and (step.hold_reason or "").startswith(QUIET_REASON):
        withdrawn = _recheck(rule, context)
        if withdrawn is not None:
            return withdrawn
    if action.spec.channel not in MESSAGE_CHANNELS:
        return None
    hold = quiet_hold(quiet, context.event.data, now, default_zone)
    if hold is None:
        return None
    if hold.dropped:
        return Success(StepStatus.SKIPPED, {}, {}, reason=hold.dropped[:300])
    return Hold(hold.until, hold.reason)


def _delay_until(action: CompiledAction, variables: dict[str, Any], default_zone: str) -> datetime:
    assert action.delay_until is not None
    try:
        rendered = action.delay_until.render(variables)
        return parse_time(rendered, default_zone)
    except (TemplateRenderError, ValueError) as exc:
        raise PermanentError(f"delay_until: {exc}", code="bad_delay_until") from exc


def _recheck(rule: CompiledRule, context: EvaluationContext) -> Withdrawn | None:
    assert rule.condition is not None
    try:
        if rule.condition.holds(context.cel):
            return None
    except ConditionEvaluationError as exc:
        return Withdrawn(f"recheck after quiet hours: error: {exc}"[:500])
    return Withdrawn("recheck after quiet hours: the rule's condition no longer holds")
