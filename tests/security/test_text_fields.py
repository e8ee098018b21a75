"""Names and ids that read differently from what is stored, replayed: refused with 422 naming the field.

A bidi override makes "Ana Souza" display as something else in an email or
on the console; a zero-width character makes a second "Ana Souza" that looks
like the first; a control character (ESC) rewrites a terminal reading the
logs. Free text (descriptions, notes) keeps line breaks and emoji joiners.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.models import Customer, Event

HOSTILE = {"a right-to-left override": "Ana \u202eazuoS", "a zero-width space": "Ana\u200b Souza",
           "a byte order mark": "\ufeffAna Souza", "an escape sequence": "Ana \x1b[2J Souza",
           "a line break": "Ana\nSouza"}


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_customer_name_with_hidden_characters_is_refused_naming_the_field(
        attack: str, client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    response = client.post("/v1/customers", headers=auth("customers:write"), json={"name": HOSTILE[attack]})
    assert response.status_code == 422, attack
    assert response.json()["error"]["message"].startswith("body.name: ")
    assert count(db_engine, Customer.__table__) == 0


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/technicians", {"name": "João\u2067 Lima", "region": "sp-sul"}, "body.name"),
    ("/v1/technicians", {"name": "João Lima", "region": "sp\u200d-sul"}, "body.region"),
    ("/v1/customers", {"name": "Maria", "email": "maria\u200b@example.com"}, "body.email"),
    ("/v1/customers", {"name": "Maria", "phone": "+55 11 9\u202e8765-4321"}, "body.phone"),
])
def test_people_fields_with_hidden_characters_are_refused(
        path: str, body: dict[str, str], field: str, client: TestClient,
        auth: Callable[..., dict[str, str]]) -> None:
    response = client.post(path, headers=auth("admin"), json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(f"{field}: ")


def test_an_order_description_refuses_an_override_but_keeps_lines_and_emoji(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin")
    customer = client.post("/v1/customers", headers=headers, json={"name": "Maria"}).json()
    order = {"customer_id": customer["id"], "region": "sp-sul"}
    bad = client.post("/v1/service-orders", headers=headers,
                      json={**order, "description": "Trocar disjuntor \u202e(pago)"})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("body.description: a bidirectional override")
    good = client.post("/v1/service-orders", headers=headers,
                       json={**order, "description": "Trocar disjuntor\nTécnica 👩\u200d🔧 leva a escada"})
    assert good.status_code == 201, good.text


@pytest.mark.parametrize("event_id", ["evt\u200b-1", "evt-\u202e1", "evt\t1"])
def test_an_event_id_with_hidden_characters_is_refused_naming_the_field(
        event_id: str, client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    response = client.post("/v1/events", headers=auth("events:write"), json={"type": "a.b", "id": event_id})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("event.id: ")
    assert count(db_engine, Event.__table__) == 0
