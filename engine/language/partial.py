"""What is left of a rule whose shape is wrong, so its other parts are still checked.

A rule with an unknown key or a bad cron still gets its CEL, action, param and
template checks in the same ``validate`` run. Each part is validated on its
own; the parts that fail were reported by the rule's own validation and are
left out here, never reported twice.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.language.models import ACTION_OPTION_KEYS, Action, Rule, Trigger

_TRIGGER: TypeAdapter[Any] = TypeAdapter(Trigger)
_PARTS = ("if", "dedupe", "throttle")


def parsed_parts(raw: dict[str, Any]) -> tuple[Rule, bool]:
    """A ``Rule`` (unvalidated as a whole) of the parts of ``raw`` that parse on their own.

    Triggers and actions are kept up to the first that does not parse, so each keeps its
    index (and its problems their line); an action with a bad option (``delay``, ``retry``,
    ``if``...) is kept without it, except a bad ``as``: its templates read a name it failed to
    give. The flag says whether every trigger parsed: only then is the rule's data known.
    """
    fields: dict[str, Any] = {"id": raw.get("id") if isinstance(raw.get("id"), str) else "?"}
    on = raw.get("on")
    listed = on if isinstance(on, list) else [on]
    fields["on"] = triggers = _prefix(_TRIGGER.validate_python, listed)
    do = raw.get("do")
    fields["do"] = _prefix(_action, do if isinstance(do, list) else [])
    for key in _PARTS:
        name = "if_" if key == "if" else key
        if raw.get(key) is not None:
            fields[name] = _valid(_adapter(name), raw[key])
    return Rule.model_construct(**fields), bool(listed) and len(triggers) == len(listed)


def _prefix(parse: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    parsed = []
    for item in items:
        try:
            parsed.append(parse(item))
        except ValidationError:
            break
    return parsed


def _action(raw: Any) -> Action:
    try:
        return Action.model_validate(raw)
    except ValidationError as exc:
        if not isinstance(raw, dict):
            raise
        bad = {item["loc"][0] for item in exc.errors() if item["loc"]} & set(ACTION_OPTION_KEYS)
        # without its own name for the loop variable the action's templates cannot be judged
        if not bad or "as" in bad:
            raise
        return Action.model_validate({key: value for key, value in raw.items() if key not in bad})


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(Rule.model_fields[name].rebuild_annotation())


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
