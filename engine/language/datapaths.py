"""Does an event's payload have ``data.x.y``? Walking a JSON Schema along a path.

An object schema that lists ``properties`` is read as closed unless it says
``additionalProperties`` (a rule reading a field the payload does not declare
is almost always a typo); one without ``properties`` is open. Only local
``$ref``s (``#/...``) are followed, a bounded number of times, so a schema from
a rule file cannot make the walk loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_MAX_REFS = 64  # per path: deeper chains of $ref are read as open
_SCALARS = {"string", "number", "integer", "boolean", "null"}


@dataclass(frozen=True)
class PathGap:
    """Where a path leaves every schema: the part that is not there, and what is."""

    depth: int  # index of the first part no schema has
    known: tuple[str, ...]  # the names the schemas have at that depth
    scalar: str | None = None  # the type found instead of an object ("string"), when that is why


def find_gap(schemas: Sequence[dict[str, Any]], path: Sequence[str]) -> PathGap | None:
    """``None`` when at least one schema has ``path``; else the gap nearest the end of the path."""
    gaps = []
    for schema in schemas:
        gap = _gap(schema, path)
        if gap is None:
            return None
        gaps.append(gap)
    if not gaps:
        return None
    deepest = max(gap.depth for gap in gaps)
    known = sorted({name for gap in gaps if gap.depth == deepest for name in gap.known})
    scalar = next((gap.scalar for gap in gaps if gap.depth == deepest and gap.scalar), None)
    return PathGap(deepest, tuple(known), scalar)


def _gap(root: dict[str, Any], path: Sequence[str]) -> PathGap | None:
    budget = [_MAX_REFS]
    nodes = _alternatives(root, root, budget)
    for depth, part in enumerate(path):
        following: list[dict[str, Any]] = []
        known: set[str] = set()
        scalars: set[str] = set()
        for node in nodes:
            step = _step(node, part, known, scalars)
            if step is None:
                return None  # open from here on: anything goes
            following.extend(alt for child in step for alt in _alternatives(root, child, budget))
        if not following:
            scalar = next(iter(sorted(scalars))) if scalars and not known else None
            return PathGap(depth, tuple(sorted(known)), scalar)
        nodes = following
    return None


def _step(node: dict[str, Any], part: str, known: set[str], scalars: set[str]) -> list[Any] | None:
    """The schemas of ``part`` under ``node``; ``None`` when ``node`` accepts anything there."""
    types = _types(node)
    if types and types <= _SCALARS:
        scalars.update(types - {"null"})
        return []
    found: list[Any] = []
    if "array" in types or "items" in node:
        items = node.get("items")
        if part.isdigit():
            if not isinstance(items, dict):
                return None
            found.append(items)
    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if isinstance(properties, dict):
        known.update(str(name) for name in properties)
        if part in properties:
            found.append(properties[part])
        elif extra is True or (extra is None and "patternProperties" in node):
            return None
        elif isinstance(extra, dict):
            found.append(extra)
        return found
    if "array" in types and types <= {"array", "null"}:
        return found
    if isinstance(extra, dict):
        return [extra]
    if extra is False:
        return found
    return None  # an object (or anything) that lists no properties is open


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {str(k) for k in kind}
    if "const" in node:
        return {_json_type(node["const"])}
    return set()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _alternatives(root: dict[str, Any], node: Any, budget: list[int]) -> list[dict[str, Any]]:
    """``node`` with its ``$ref`` followed and ``anyOf``/``oneOf``/``allOf`` spread out."""
    if node is True or not isinstance(node, dict):
        return [{}]  # true, or something that is not a schema: open
    pending: list[dict[str, Any]] = [node]
    out: list[dict[str, Any]] = []
    while pending:
        item = pending.pop()
        ref = item.get("$ref")
        if isinstance(ref, str):
            budget[0] -= 1
            target = _resolve(root, ref) if budget[0] > 0 else None
            if target is None:
                return [{}]
            pending.append(target)
            continue
        branches = [b for key in ("anyOf", "oneOf", "allOf") for b in _list(item.get(key))]
        if branches:
            rest = {k: v for k, v in item.items() if k not in ("anyOf", "oneOf", "allOf")}
            if set(rest) - {"description", "title", "default", "examples"}:
                out.append(rest)
            pending.extend(b if isinstance(b, dict) else {} for b in branches)
            continue
        out.append(item)
    return out


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref.lstrip("#").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None
