"""Checking a stored event's payload against its committed schema in ``schemas/events/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"


def payload_errors(event_type: str, payload: dict[str, Any]) -> list[str]:
    """Why ``payload`` does not match the schema of ``event_type``; empty when it does."""
    schema = json.loads((SCHEMAS / f"{event_type}.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{event_type}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(payload)]
