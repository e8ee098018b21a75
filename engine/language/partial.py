"""What is left of a rule whose shape is wrong, so its other parts are still checked.

A rule with an unknown key or a bad cron still gets its CEL, action, param and
template checks in the same ``validate`` run. Each part is validated on its
own; the parts that fail were reported by the rule's own validation and are
left out here, never reported twice.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.language.models import Action, Rule, Trigger

_TRIGGER: TypeAdapter[Any] = TypeAdapter(Trigger)
_PARTS = ("if", "dedupe", "throttle")


def parsed_parts(raw: dict[str, Any]) -> tuple[Rule, bool]:
    """A ``Rule`` (unvalidated as a whole) of the parts of ``raw`` that parse on their own.

    The flag says whether every trigger parsed: only then is the rule's data known.
    """
    fields: dict[str, Any] = {"id": raw.get("id") if isinstance(raw.get("id"), str) else "?"}
    on = raw.get("on")
    triggers = [_valid(_TRIGGER, item) for item in (on if isinstance(on, list) else [on])]
    fields["on"] = [t for t in triggers if t is not None]
    do = raw.get("do")
    actions = (_action(item) for item in (do if isinstance(do, list) else []))
    fields["do"] = [a for a in actions if a is not None]
    for key in _PARTS:
        name = "if_" if key == "if" else key
        if raw.get(key) is not None:
            fields[name] = _valid(_adapter(name), raw[key])
    return Rule.model_construct(**fields), bool(triggers) and None not in triggers


def _action(raw: Any) -> Action | None:
    try:
        return Action.model_validate(raw)
    except ValidationError:
        return None


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(Rule.model_fields[name].rebuild_annotation())


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
