"""records.query: a named query's rows for the rule: bounded, JSON-friendly, "today" on the company's
calendar."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from connectors.base import ActionCall, Runtime
from connectors.records import RecordsConnector, RecordsQueryParams
from errors import PermanentError
from store import query_specs
from store.db import session_scope
from store.models import Appointment
from store.seed import seed_demo

# Wednesday 2026-12-02, 07:00 in São Paulo: the daily agenda's moment, the day after the demo's "now"
AGENDA_TIME = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SEEDED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def connector(runtime: Runtime) -> RecordsConnector:
    return RecordsConnector(runtime=runtime)


def query(name: str, **params: object) -> RecordsQueryParams:
    return RecordsQueryParams(query=name, params=params)


def call(params: RecordsQueryParams, at: datetime = AGENDA_TIME) -> ActionCall:
    return ActionCall(action="query", params=params, idempotency_key="agenda:e1:do[0]", event_at=at)


def test_the_days_appointments_of_the_demo_company_come_back_as_json_rows(
        runtime: Runtime, engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        seed_demo(session, at=SEEDED_AT, customers=30, technicians=5, orders=300)
    outputs = connector(runtime).execute(call(query("appointments.of_day", day="today")))
    rows = outputs["rows"]
    assert outputs["count"] == len(rows) > 0
    json.dumps(outputs)  # the step row stores them as JSON
    zone = ZoneInfo("America/Sao_Paulo")
    assert {row["appointment"]["day"] for row in rows} == {"2026-12-02"}
    with session_scope(engine) as session:
        live = session.execute(sa.select(Appointment.starts_at).where(
            Appointment.status.in_(("scheduled", "confirmed")))).scalars().all()  # type: ignore[attr-defined]
    that_day = [s for s in live if s.astimezone(zone).date().isoformat() == "2026-12-02"]
    assert len(rows) == len(that_day)
    starts = [row["appointment"]["starts_at"] for row in rows]
    assert starts == sorted(starts)
    assert all(row["technician"]["email"].endswith("@example.com") for row in rows)


def test_today_is_the_companys_today_on_the_day_of_the_event_not_utcs(
        runtime: Runtime, engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        seed_demo(session, at=SEEDED_AT, customers=30, technicians=5, orders=300)
    # 01:00 UTC on the 3rd is still 22:00 on the 2nd in São Paulo
    late = call(query("appointments.of_day"), datetime(2026, 12, 3, 1, 0, tzinfo=UTC))
    rows = connector(runtime).execute(late)["rows"]
    assert rows
    assert {row["appointment"]["day"] for row in rows} == {"2026-12-02"}


def test_a_query_that_finds_more_rows_than_its_bound_fails_instead_of_cutting(
        runtime: Runtime, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(engine) as session:
        seed_demo(session, at=SEEDED_AT, customers=30, technicians=5, orders=300)
    spec = query_specs.QUERY_SPECS["appointments.of_day"]
    monkeypatch.setitem(query_specs.QUERY_SPECS, spec.name, dataclasses.replace(spec, max_rows=1))
    with pytest.raises(PermanentError, match="more than 1 rows") as raised:
        connector(runtime).execute(call(query("appointments.of_day")))
    assert raised.value.code == "too_many_rows"


def test_without_a_database_the_step_fails_for_good(bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError) as raised:
        connector(bare_runtime).execute(call(query("appointments.of_day")))
    assert raised.value.code == "no_database"


def test_params_rendered_wrong_fail_for_good_naming_the_field(runtime: Runtime) -> None:
    # validate passed a template; what it rendered to is not a day
    params = RecordsQueryParams.model_construct(query="appointments.of_day", params={"day": "ontem"})
    with pytest.raises(PermanentError, match=r"day: .*'ontem' is not a day") as raised:
        connector(runtime).execute(call(params))
    assert raised.value.code == "invalid_params"


def test_an_unknown_query_name_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValidationError, match="unknown query 'appointments.of_days' "
                                              r"\(did you mean 'appointments.of_day'\?\)"):
        query("appointments.of_days")


def test_params_are_checked_against_the_querys_own_model() -> None:
    with pytest.raises(ValidationError, match=r"params of query 'appointments.of_day': tecnico: "
                                              r"Extra inputs are not permitted \(its params: day, "):
        query("appointments.of_day", tecnico="x")
    with pytest.raises(ValidationError, match="customer_id: Field required"):
        query("service_orders.open_for_customer")


def test_templated_params_wait_for_the_render() -> None:
    assert query("service_orders.open_for_customer", customer_id="{{ data.customer.id }}").params == {
        "customer_id": "{{ data.customer.id }}"}
    assert query("appointments.of_day", day="{{ data.day }}").params == {"day": "{{ data.day }}"}
    with pytest.raises(ValidationError, match="is not a day"):
        query("appointments.of_day", day="someday")


def test_plan_reads_nothing_and_says_what_would_run() -> None:
    plan = RecordsConnector().plan("query", query("appointments.of_day", day="tomorrow"), None)
    assert plan == {"note": "would run the query 'appointments.of_day' (read only) when the step runs"}
