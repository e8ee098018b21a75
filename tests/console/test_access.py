"""Console pages that show what was done for a customer are in that customer's access log.

On the demo company plus Maria (``tests.support.privacy``): her order's event started a run
whose webhook step dead-lettered; another demo customer's data must not be logged as read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from console.access import CONSOLE_REASON
from store.models.runs import RuleRun
from store.privacy.access import access_dict, access_log, payload_customer_ids
from tests.support.privacy import NAME, World, build_world

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def accesses(engine: sa.Engine, customer_id: str) -> list[dict[str, object]]:
    with Session(engine) as session:
        return [access_dict(e) for e in access_log(session, customer_id)]


def marias_run(engine: sa.Engine, world: World) -> str:
    with Session(engine) as session:
        run = session.exec(select(RuleRun).where(col(RuleRun.event_id).in_(world.event_ids))
                           .order_by(col(RuleRun.created_at))).first()
        assert run is not None
        return run.id


def test_viewing_a_run_records_the_read_for_the_customer_its_event_names(
        browser: TestClient, viewer: str, db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    run_id = marias_run(db_engine, world)
    assert browser.get(f"/console/execucoes/{run_id}").status_code == 200
    (entry,) = accesses(db_engine, world.customer_id)
    assert (entry["who"], entry["what"], entry["why"]) == ("user:vitor", "GET /console/execucoes/{id}",
                                                           CONSOLE_REASON)
    assert accesses(db_engine, world.other_id) == []


def test_the_dead_letters_page_records_a_read_per_customer_shown(
        browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    assert browser.get("/console/execucoes/cartas").status_code == 200
    assert [(a["who"], a["what"]) for a in accesses(db_engine, world.customer_id)] == [
        ("user:ana", "GET /console/execucoes/cartas")]


def test_a_customer_search_records_a_read_and_a_plain_list_does_not(
        browser: TestClient, viewer: str, db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    assert browser.get("/console/execucoes").status_code == 200
    assert accesses(db_engine, world.customer_id) == []
    found = browser.get("/console/execucoes", params={"customer": NAME.split()[1]})
    assert f"/console/execucoes/{marias_run(db_engine, world)}" in found.text
    assert [a["what"] for a in accesses(db_engine, world.customer_id)] == ["GET /console/execucoes?customer="]


def test_payload_customer_ids_reads_every_place_an_event_names_a_customer() -> None:
    payload = {"customer": {"id": "c-1", "name": "Maria"}, "order": {"customer_id": "c-1"},
               "invoice": {"customer_id": "c-2"}, "appointment": "not a record",
               "payment": {"customer_id": 7}}
    assert payload_customer_ids(payload) == ["c-1", "c-2"]
    assert payload_customer_ids({"from": "+5511987654321"}) == []
