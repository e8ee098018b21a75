"""One text value inside a JSON column, written so an expression index on it can serve the look-up.

SQLAlchemy's ``column["a"]["b"].as_string()`` binds the path as a parameter (and on SQLite wraps
it in ``JSON_QUOTE``/``CAST``), so no index expression ever matches it and every look-up scans
the table. ``JsonText`` renders the path as literals, the same text in ``CREATE INDEX`` and in
the query: ``json_extract(payload, '$.customer.id')`` on SQLite, ``((payload -> 'customer') ->> 'id')``
on PostgreSQL. The keys come from code, never from input, and must be plain identifiers.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class JsonText(ColumnElement[str]):
    inherit_cache = True
    type = sa.Text()  # what ->> and json_extract give: the comparison needs no cast
    # what the statement cache keys on: the column and the path (the path is in the SQL text);
    # a list because SQLAlchemy declares it so on every element
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),  # noqa: RUF012
                           ("keys", InternalTraversal.dp_string_list)]

    def __init__(self, column: ColumnElement[Any], *keys: str) -> None:
        bad = [k for k in keys if not _KEY.match(k)]
        if not keys or bad:
            raise ValueError(f"JSON keys must be plain identifiers, not {bad or 'none'}")
        self.column = column
        self.keys = keys


@compiles(JsonText, "sqlite")
def _sqlite(element: JsonText, compiler: Any, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.column, **kw)}, '$.{'.'.join(element.keys)}')"


@compiles(JsonText, "postgresql")
def _postgresql(element: JsonText, compiler: Any, **kw: Any) -> str:
    # parenthesised as PostgreSQL prints the index back, so alembic sees the model and the
    # database agree: ((payload -> 'customer') ->> 'id')
    expression = compiler.process(element.column, **kw)
    for key in element.keys[:-1]:
        expression = f"({expression} -> '{key}')"
    return f"({expression} ->> '{element.keys[-1]}')"


@compiles(JsonText)
def _other(element: JsonText, compiler: Any, **kw: Any) -> str:
    raise sa.exc.CompileError(f"JsonText has no form for {compiler.dialect.name}")
