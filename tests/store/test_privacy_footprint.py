"""Finding a person's data reads indexes only, on both databases: no look-up scans a table.

Every SELECT ``find_footprint`` sends is captured and explained. On PostgreSQL sequential scans
are switched off for the EXPLAIN, so a plan that still has one means no index fits the query
(on a table this small the planner would otherwise prefer a scan whatever the indexes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from store.db import session_scope
from store.json_text import JsonText
from store.models import Customer
from store.privacy.footprint import find_footprint
from tests.support.privacy import build_world

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def footprint_selects(engine: sa.Engine, customer_id: str) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as session:
            customer = session.get(Customer, customer_id)
            assert customer is not None
            footprint = find_footprint(session, customer)
            assert footprint.events and footprint.whatsapp_messages  # the look-ups found something
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


def plan(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return [row[3] for row in rows]
        conn.exec_driver_sql("SET enable_seqscan = off")
        return [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()]


def test_every_lookup_of_a_persons_data_is_served_by_an_index(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    selects = footprint_selects(engine, world.customer_id)
    scans = {}
    for statement, parameters in selects:
        lines = plan(engine, statement, parameters)
        if any(line.startswith("SCAN ") or "Seq Scan" in line for line in lines):
            scans[statement.split("FROM", 1)[1].split()[0]] = lines
    assert len(selects) > 15 and scans == {}


def test_events_are_found_through_the_payload_expression_indexes(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    events = sa.table("events", sa.column("id"), sa.column("payload"))
    query = sa.select(events.c.id).where(JsonText(events.c.payload, "customer", "id") == world.customer_id)
    compiled = query.compile(engine)
    lines = plan(engine, str(compiled), compiled.params if engine.dialect.name == "postgresql"
                 else tuple(compiled.params.values()))
    assert any("ix_events_payload_customer_id" in line for line in lines), lines


def test_json_keys_must_be_plain_identifiers() -> None:
    payload = sa.column("payload")
    with pytest.raises(ValueError, match="plain identifiers"):
        JsonText(payload, "customer", "id') OR 1=1 --")
    with pytest.raises(ValueError):
        JsonText(payload)
