"""A failed delivery reported by Twilio, replayed: the dead letter shows the number masked.

The status callback's message becomes the dead letter's error, which
``despacho dlq`` lists and the log repeats; like every phone error it shows
the country code and the last two digits only.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.models import DeadLetter
from tests.api.test_server import factory_client, report_undelivered, sent_sms_step  # noqa: F401  (fixture)


def test_an_undelivered_sms_leaves_a_dead_letter_with_the_number_masked(
        factory_client: TestClient) -> None:  # noqa: F811
    sent_sms_step(factory_client)
    report_undelivered(factory_client)
    with Session(factory_client.app.state.ctx.core.db) as session:
        letter = session.exec(select(DeadLetter)).one()
    assert letter.error.startswith("sms to +55 11 9****-4321 undelivered (Twilio error 30003")
    assert "5511987654321" not in letter.error
