"""The company's own records, read: ``records.query`` runs a named query and hands its rows to the rule.

Only the named queries of ``store.query_specs`` can run, chosen by a name
written in the rule (never by event data: ``query`` is a literal param),
with params checked against the query's own model at ``despacho validate``.
The rows are plain JSON (ids as strings, dates as ISO strings), at most the
query's ``max_rows``: a query that finds more fails the step instead of
cutting the list short. Reading changes nothing, so a retried step simply
reads again.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, JsonValue, ValidationError, ValidationInfo, field_validator

from connectors.base import ActionCall, ActionSpec, Connector, Params
from errors import PermanentError
from store.query_specs import QUERY_SPECS, QueryParams, QuerySpec

ROWS_OUTPUT = "rows"
_NAMES: list[JsonValue] = list(sorted(QUERY_SPECS))  # an enum in the JSON Schema: editors complete the name


class RecordsQueryParams(Params):
    query: str = Field(description="Name of a named query, e.g. appointments.of_day",
                       json_schema_extra={"enum": _NAMES})
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the query")

    @field_validator("query")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in QUERY_SPECS or _templated(value):  # a templated name is refused by `validate` itself
            return value
        close = difflib.get_close_matches(value, list(QUERY_SPECS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(sorted(QUERY_SPECS))
        raise ValueError(f"unknown query '{value}' ({hint})")

    @field_validator("params")
    @classmethod
    def _fit_the_query(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        spec = QUERY_SPECS.get(info.data.get("query", ""))
        if spec is not None:
            query_params(spec, value, skip_templated=True)
        return value


def query_params(spec: QuerySpec, params: dict[str, Any], *, skip_templated: bool = False
                 ) -> QueryParams | None:
    """``params`` validated against the query's model; a ``ValueError`` names the query's field.

    ``skip_templated``: at ``validate`` a templated value is judged once rendered, when the step runs
    (``None``: only templated values were wrong).
    """
    try:
        return spec.params.model_validate(params)
    except ValidationError as exc:
        wrong = [item for item in exc.errors(include_url=False)
                 if not (skip_templated and _templated(item.get("input")))]
        if not wrong:
            return None
        parts = [f"{'.'.join(str(p) for p in item['loc']) or 'params'}: "
                 f"{item['msg'].removeprefix('Value error, ')}" for item in wrong]
        known = ", ".join(spec.params.model_fields) or "none"
        raise ValueError(f"params of query '{spec.name}': {'; '.join(parts)} (its params: {known})") from exc


def fixture_outputs(uses: str, rendered: Mapping[str, Any] | None,
                    records: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """What a ``records.query`` step outputs in a dry-run given rows for its query (a rule test's
    ``records:``), whatever its params; ``None`` for other actions and queries without rows."""
    if uses != "records.query" or not rendered:
        return None
    rows = records.get(str(rendered.get("query")))
    return None if rows is None else {ROWS_OUTPUT: list(rows), "count": len(rows)}


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class RecordsConnector(Connector):
    name = "records"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "query": ActionSpec("query", RecordsQueryParams,
                            "Run a named query; its rows are steps.<id>.rows, their number steps.<id>.count",
                            outputs=(ROWS_OUTPUT, "count"), literal_params=("query",)),
    }

    def check(self) -> dict[str, Any]:
        return {"target": "database", "detail": f"{len(QUERY_SPECS)} named queries"}

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, RecordsQueryParams)
        return {"note": f"would run the query '{params.query}' (read only) when the step runs"}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        from store.errors import ValidationFailed
        from store.queries import run_query

        params = call.params
        assert isinstance(params, RecordsQueryParams)
        spec = QUERY_SPECS.get(params.query)
        if spec is None:  # the rule set changed under a queued step
            raise PermanentError(f"unknown query '{params.query}'", code="unknown_query")
        if self.runtime.session is None:
            raise PermanentError("records.query needs the database", code="no_database")
        try:
            checked = query_params(spec, params.params)
        except ValueError as exc:
            raise PermanentError(str(exc), code="invalid_params") from exc
        assert checked is not None  # nothing is skipped without skip_templated
        # "today" is the company's today on the day of the event (a 07:00 fire held, delayed or retried
        # still reads its own day): the queries count days on the calendar of ``at``
        moment = call.event_at or datetime.now(UTC)
        if moment.tzinfo is None:  # stored times are UTC
            moment = moment.replace(tzinfo=UTC)
        at = moment.astimezone(ZoneInfo(self.runtime.timezone))
        try:
            with self.runtime.session() as session:
                rows = run_query(session, spec.name, at, checked)
        except ValidationFailed as exc:
            raise PermanentError(str(exc), code="invalid_params") from exc
        if len(rows) > spec.max_rows:
            raise PermanentError(f"query '{spec.name}' found more than {spec.max_rows} rows; narrow its "
                                 "params", code="too_many_rows")
        return {ROWS_OUTPUT: rows, "count": len(rows)}
