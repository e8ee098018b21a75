"""JSON Schemas generated from the models (draft-07, for the YAML language server)."""

from __future__ import annotations

import copy
import json
from pathlib import Path as FsPath
from typing import Any

from connectors.registry import all_actions
from engine.language.catalogue import render_events_doc, stale_event_schemas, write_event_schemas
from engine.language.models import ACTION_OPTION_KEYS, EVENT_PATTERN, EVENT_TYPE_NAME, CustomEvent, Rule
from engine.settings import Settings

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILES = {"rules.schema.json": "rules", "config.schema.json": "config"}


def rules_schema() -> dict[str, Any]:
    """The schema of a rule file, with one branch per connector action."""
    rule = Rule.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    definitions = rule.pop("$defs", {})
    definitions["Rule"] = rule
    definitions["CustomEvent"] = CustomEvent.model_json_schema(by_alias=True)
    _accept_shorthands(rule["properties"])
    definitions["Action"] = _action_schema(definitions["Action"], definitions)
    schema = {
        "$schema": DRAFT_07,
        "title": "despacho rule file",
        "type": "object",
        "additionalProperties": False,
        "required": ["rules"],
        "properties": {
            "version": {"const": 1, "description": "Rule language version"},
            "events": {
                "type": "object",
                "description": "Event types posted by other systems, with the JSON Schema of their data",
                "propertyNames": {"pattern": EVENT_TYPE_NAME},
                "additionalProperties": {"$ref": "#/definitions/CustomEvent"},
            },
            "rules": {"type": "array", "items": {"$ref": "#/definitions/Rule"}},
        },
        "definitions": definitions,
    }
    return _draft07(schema)


def _accept_shorthands(properties: dict[str, Any]) -> None:
    """The models accept a few shorthands through before-validators; say so to editors."""
    trigger = {"oneOf": [
        {"type": "string", "pattern": EVENT_PATTERN, "description": "Event type"},
        *properties["on"]["items"]["oneOf"],
    ]}
    properties["on"] = {
        "description": "One trigger or a list of them",
        "anyOf": [trigger, {"type": "array", "items": trigger, "minItems": 1}],
    }
    properties["dedupe"] = {
        "description": "Key template (same key within the window is skipped), or {key, window}",
        "anyOf": [{"type": "string"}, {"$ref": "#/definitions/Dedupe"}],
    }


def _action_schema(generated: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    # The model reads the action key into `uses` and `params`; editors see the YAML form.
    options = {k: v for k, v in generated["properties"].items() if k in ACTION_OPTION_KEYS}
    branches = []
    for name, spec in sorted(all_actions().items()):
        params = spec.params.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
        definitions.update(params.pop("$defs", {}))
        definitions[spec.params.__name__] = params
        branches.append({
            "type": "object",
            "description": spec.description,
            "required": [name],
            "additionalProperties": False,
            "properties": {name: {"$ref": f"#/definitions/{spec.params.__name__}"}, **options},
        })
    return {"title": "Action", "oneOf": branches}


def config_schema() -> dict[str, Any]:
    schema = Settings.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    schema["definitions"] = schema.pop("$defs", {})
    schema["$schema"] = DRAFT_07
    return _draft07(schema)


def _draft07(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the few 2020-12 forms pydantic emits into their draft-07 equivalents."""
    schema = copy.deepcopy(schema)
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "prefixItems" in node:
                node["items"] = node.pop("prefixItems")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


def render(kind: str) -> str:
    schema = rules_schema() if kind == "rules" else config_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(folder: FsPath, events_doc: FsPath | None = None) -> list[FsPath]:
    """The rule and config schemas, the event catalogue's schemas and (given a path) its page."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, kind in SCHEMA_FILES.items():
        path = folder / name
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    written.extend(write_event_schemas(folder))
    if events_doc is not None:
        events_doc.parent.mkdir(parents=True, exist_ok=True)
        events_doc.write_text(render_events_doc(), encoding="utf-8")
        written.append(events_doc)
    return written


def stale_schemas(folder: FsPath, events_doc: FsPath | None = None) -> list[FsPath]:
    """The files that are missing or differ from what the models generate."""
    stale = []
    for name, kind in SCHEMA_FILES.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(kind):
            stale.append(path)
    stale.extend(stale_event_schemas(folder))
    if events_doc is not None and (not events_doc.is_file()
                                   or events_doc.read_text(encoding="utf-8") != render_events_doc()):
        stale.append(events_doc)
    return stale
