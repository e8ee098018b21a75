"""``for_each`` on an action: the list, its items (or groups), and one prepared call per item.

The step runner and dry-run both go through ``prepare_calls``, so dry-run
shows the calls that would be made. Every call of the step is prepared
(params rendered and validated, template rendered) before the first one is
made: an item that does not render fails the step before any effect, never
halfway through the list.

Each call has its own idempotency key, the step's key plus the item's key:
the item's ``id`` (or the ``id`` of the first record in a query row), else
its position. A step retried after item k failed makes its calls again, and
the connectors find items before k already done under their keys.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import DespachoError
from engine.language.calls import CallPreparationError, PreparedCall, prepare_call
from engine.language.conditions import ConditionEvaluationError, Scope
from engine.language.ruleset import CompiledAction, Loop
from engine.language.templating import TemplateRenderError, TemplateStore

MAX_ITEMS = 500          # items of one for_each: the query specs' max_rows, and what one step may do
MAX_GROUP_KEY = 200      # characters of a rendered group_by key
# what steps.<id> holds for a for_each step, whatever its action: each call's outputs, calls made,
# items (or groups) whose ``if`` was false
LOOP_OUTPUTS = ("items", "count", "skipped")
# each call has the render limits of one call; these bound all of a step's calls together
MAX_LOOP_TEXT = 20_000_000   # characters of rendered params and messages
MAX_LOOP_SECONDS = 10.0      # preparing every call
_MAX_KEY = 300           # the idempotency key columns
_MAX_ITEM_KEY = 80       # an item key longer than this (data can be anything) is hashed


class LoopError(DespachoError):
    """The for_each list is missing, not a list, too long, or an item's key does not render."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Unit:
    """One call of a for_each step: its key and the variables it adds (``item``, or ``group``)."""

    key: str
    bindings: dict[str, Any]


def loop_list(loop: Loop, variables: dict[str, Any]) -> Any:
    """The value at the loop's path (not yet checked to be a list)."""
    value: Any = variables
    for index, part in enumerate(loop.path):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(loop.path[:index + 1])
            raise LoopError(f"for_each: '{where}' is not defined", code="for_each_undefined")
        value = value[part]
    return value


def loop_units(loop: Loop, variables: dict[str, Any]) -> list[Unit]:
    """The calls of the step: one per item, or one per group of items when ``group_by`` is set."""
    items = loop_list(loop, variables)
    if not isinstance(items, list):
        raise LoopError(f"for_each: {loop.source} is {type(items).__name__}, not a list",
                        code="for_each_not_a_list")
    if len(items) > MAX_ITEMS:
        raise LoopError(f"for_each: {loop.source} has {len(items)} items, over the limit of {MAX_ITEMS}",
                        code="too_many_items")
    if loop.group_by is None:
        keys = _item_keys(items)
        return [Unit(key, {loop.name: item}) for key, item in zip(keys, items, strict=True)]
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(_group_key(loop, variables, item), []).append(item)
    # "members", not "items": in a template, group.items would be the dict's method
    return [Unit(_short(key), {"group": {"key": key, "members": members, "count": len(members)}})
            for key, members in groups.items()]


@dataclass(frozen=True)
class LoopCalls:
    calls: list[tuple[Unit, PreparedCall]]
    skipped: list[Unit]  # the action's ``if:`` was false for these


def prepare_calls(action: CompiledAction, variables: dict[str, Any], templates: TemplateStore
                  ) -> LoopCalls:
    """Every call of a for_each step, prepared; the action's ``if:`` is checked per item (or group).

    Errors name the item: ``CallPreparationError``, ``ConditionEvaluationError``, ``LoopError``.
    """
    assert action.loop is not None
    result = LoopCalls([], [])
    deadline = time.monotonic() + MAX_LOOP_SECONDS
    text = 0
    for unit in loop_units(action.loop, variables):
        if time.monotonic() > deadline:
            raise LoopError(f"for_each: preparing the calls took more than {MAX_LOOP_SECONDS:g} s "
                            f"(stopped at item {unit.key})", code="template_limit")
        scope = {**variables, **unit.bindings}
        try:
            if action.condition is not None and not action.condition.holds(Scope(scope)):
                result.skipped.append(unit)
                continue
            prepared = prepare_call(action, scope, templates)
        except CallPreparationError as exc:
            raise CallPreparationError(f"item {unit.key}: {exc}", code=exc.code) from exc
        except ConditionEvaluationError as exc:
            raise LoopError(f"item {unit.key}: condition: {exc}", code=exc.code) from exc
        text += _text_size(prepared)
        if text > MAX_LOOP_TEXT:
            raise LoopError(f"for_each: the calls' params and messages pass {MAX_LOOP_TEXT} characters "
                            f"(stopped at item {unit.key})", code="template_limit")
        result.calls.append((unit, prepared))
    return result


def _text_size(call: PreparedCall) -> int:
    parts = [*(call.message or {}).values(), *call.rendered.values()]
    return sum(len(part) for part in parts if isinstance(part, str))


def item_idempotency_key(step_key: str, item_key: str) -> str:
    """The key of one call of a for_each step; hashed when it would not fit the columns."""
    key = f"{step_key}#{item_key}"
    if len(key) <= _MAX_KEY:
        return key
    return f"{step_key[:100]}:{hashlib.sha256(key.encode()).hexdigest()}"


def _group_key(loop: Loop, variables: dict[str, Any], item: Any) -> str:
    assert loop.group_by is not None
    try:
        key = str(loop.group_by.render({**variables, loop.name: item}))
    except TemplateRenderError as exc:
        raise LoopError(f"group_by: {exc}", code="group_by_error") from exc
    if len(key) > MAX_GROUP_KEY:
        raise LoopError(f"group_by: a key of {len(key)} characters, over {MAX_GROUP_KEY}",
                        code="group_by_error")
    return key


def _item_keys(items: list[Any]) -> list[str]:
    """Each item's own id, so a key stays with its item when the list's order changes; positions when
    the items have no ids or share them."""
    keys = [_own_id(item) for item in items]
    if any(key is None for key in keys) or len(set(keys)) != len(keys):
        return [str(index) for index in range(len(items))]
    return [_short(key) for key in keys if key is not None]


def _own_id(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("id"), str | int) and not isinstance(item.get("id"), bool):
        return str(item["id"])
    for value in item.values():  # a query row: {"appointment": {"id": ...}, "order": {...}, ...}
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return str(value["id"])
    return None


def _short(key: str) -> str:
    if len(key) <= _MAX_ITEM_KEY and key.isprintable():
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:32]
