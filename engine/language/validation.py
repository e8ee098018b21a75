"""Turning pydantic validation errors into located ``Problem``s."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.language.problems import Path, Problem, did_you_mean
from engine.language.yamlsafe import Document

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def problems_from_validation_error(
    error: ValidationError,
    doc: Document,
    prefix: Path = (),
    vocabulary: Iterable[str] = (),
    skip: Callable[[Any], bool] | None = None,
) -> list[Problem]:
    """One problem per pydantic error, located through the document's side map.

    ``skip`` drops errors the caller knows are checked later.
    """
    known = list(vocabulary)
    problems = []
    for item in error.errors(include_url=False):
        if skip is not None and skip(item):
            continue
        base = _data_at(doc.data, prefix)
        path = (*prefix, *_real_path(base, item["loc"]))
        problems.append(_problem(doc, path, item, known))
    return problems


def model_vocabulary(*models: type[BaseModel]) -> set[str]:
    """Every key the given models (and models nested in them) accept."""
    words: set[str] = set()
    seen: set[type] = set()
    pending = list(models)
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            words.add(info.alias or name)
            pending.extend(_nested_models(info.annotation))
    return words


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_nested_models(arg))
    return found


def _problem(doc: Document, path: Path, item: Any, known: list[str]) -> Problem:
    kind = item["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        return doc.problem(path, f"unknown key '{key}'", did_you_mean(key, known), key=True)
    if kind == "missing":
        missing = item["loc"][-1]
        where = path[:-1] if path and path[-1] == missing else path
        return doc.problem(where, f"required key '{missing}' is missing")
    if kind in _TYPE_WORDS:
        return doc.problem(path, f"expected {_TYPE_WORDS[kind]}, got {_describe(item.get('input'))}")
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", item.get("ctx", {}).get("expected", ""))
        given = item.get("input")
        return doc.problem(path, f"{given!r} is not one of: {', '.join(options)}",
                           did_you_mean(str(given), options))
    if kind == "too_short":
        return doc.problem(path, f"needs at least {item['ctx']['min_length']} item(s)")
    message = str(item["msg"]).removeprefix("Value error, ")
    return doc.problem(path, message)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _data_at(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _real_path(data: Any, loc: tuple[str | int, ...]) -> Path:
    """Keep the parts of a pydantic ``loc`` that exist in the data.

    Pydantic inserts union tags and function names into ``loc``; walking the
    real data drops them, so the path matches what the admin wrote.
    """
    path: list[str | int] = []
    for index, part in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if isinstance(data, dict) and part in data and following is not None and following in data:
            continue  # a union tag that happens to equal a key of the data ('cron', 'every')
        if _has(data, part):
            path.append(part)
            data = data[part]
        elif isinstance(data, dict) and isinstance(part, str) and not _looks_like_tag(part):
            path.append(part)  # a missing or unknown key: still worth naming
            data = None
    return tuple(path)


def _has(data: Any, part: Any) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _looks_like_tag(part: str) -> bool:
    return part.startswith(("function-", "tagged-union", "union[")) or "[" in part
