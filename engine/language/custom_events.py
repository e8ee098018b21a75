"""The event types rule files add to the catalogue: declared under ``events:``, or emitted by rules.

A declaration's ``data`` must be a JSON Schema (checked here, located at its
line); a type despacho itself emits, or one declared twice, is an error. A
literal ``event.emit`` makes its type known too, with the keys of its literal
``data`` as the schema, so a rule listening to another rule's event is checked
without a declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.language.catalogue import Catalogue, EventType, domain_types
from engine.language.problems import Path, Problem
from engine.language.templating import is_template
from engine.language.yamlsafe import Document

EMIT_ACTION = "event.emit"


def build_catalogue(docs: list[Document]) -> tuple[Catalogue, list[Problem]]:
    """The domain types plus what ``docs`` declare and emit; problems of the declarations."""
    types = {event.type: event for event in domain_types()}
    problems: list[Problem] = []
    for doc in docs:
        for name, declaration in _declarations(doc):
            event = _declared(doc, name, declaration, types, problems)
            if event is not None:
                types[name] = event
    emitted: dict[str, list[dict[str, Any]]] = {}
    origins: dict[str, str] = {}
    for doc in docs:
        for path, params in _emits(doc):
            kind = params.get("type")
            if isinstance(kind, str) and not is_template(kind) and kind not in types:
                emitted.setdefault(kind, []).append(_inferred(params.get("data", {}), 0))
                if kind not in origins:  # the rule's line: read while parsing, where the action's is not
                    origins[kind] = f"{EMIT_ACTION} in the rule at {doc.file}:{doc.position(path[:2])[0]}"
    for kind, schemas in emitted.items():
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        types[kind] = EventType(kind, schema, origins[kind])
    return Catalogue(types.values()), problems


def _declarations(doc: Document) -> Iterator[tuple[str, Any]]:
    events = doc.data.get("events") if isinstance(doc.data, dict) else None
    if isinstance(events, dict):
        yield from ((name, value) for name, value in events.items() if isinstance(name, str))


def _declared(doc: Document, name: str, declaration: Any, known: dict[str, EventType],
              problems: list[Problem]) -> EventType | None:
    path: Path = ("events", name)
    if name in known:
        first = known[name]
        problems.append(doc.problem(path, f"event type '{name}' is already known", f"from {first.origin}",
                                    key=True))
        return None
    schema = declaration.get("data", {"type": "object"}) if isinstance(declaration, dict) else None
    if not isinstance(schema, dict):
        return None  # the file's shape check reports it
    from jsonschema import Draft202012Validator, SchemaError  # 35 ms: only for files that declare events

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = (*path, "data", *(p for p in exc.relative_path if isinstance(p, str | int)))
        problems.append(doc.problem(where, f"not a JSON Schema: {exc.message[:200]}"))
        return None
    line, _ = doc.position(path, key=True)
    return EventType(name, schema, f"{doc.file}:{line}")


def _emits(doc: Document) -> Iterator[tuple[Path, dict[str, Any]]]:
    rules = doc.data.get("rules") if isinstance(doc.data, dict) else None
    listed = rules if isinstance(rules, list) else []
    pending: list[tuple[Path, Any]] = [(("rules", i, "do"), r.get("do"))
                                       for i, r in enumerate(listed) if isinstance(r, dict)]
    while pending:
        path, actions = pending.pop()
        for index, action in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(action, dict):
                continue
            params = action.get(EMIT_ACTION)
            if isinstance(params, dict):
                yield (*path, index, EMIT_ACTION), params
            pending.append(((*path, index, "fallback"), action.get("fallback")))


def _inferred(data: Any, depth: int) -> dict[str, Any]:
    """A literal mapping's keys as a closed schema; anything templated is open."""
    if not isinstance(data, dict) or depth > 16:
        return {}
    return {"type": "object", "additionalProperties": False,
            "properties": {str(key): _inferred(value, depth + 1) for key, value in data.items()}}
