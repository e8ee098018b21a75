"""The incident register: the ANPD deadline in Brazilian business days, checked fields."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.errors import NotFound, ValidationFailed
from store.privacy.incidents import add_incident, incident_dict, notice_deadline, update_incident


def test_the_deadline_skips_weekends_and_national_holidays() -> None:
    # Wednesday 23 Dec 2026: 24 (1), 25 Christmas, 26-27 weekend, 28 (2), 29 (3)
    assert notice_deadline(datetime(2026, 12, 23, 15, tzinfo=UTC), "America/Sao_Paulo") == date(2026, 12, 29)
    # 01:00 UTC on Friday is still Thursday evening in São Paulo: counted from Thursday
    assert notice_deadline(datetime(2026, 12, 4, 1, tzinfo=UTC), "America/Sao_Paulo") == date(2026, 12, 8)


def test_an_incident_is_registered_updated_and_flagged_when_the_notice_is_late(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        incident = add_incident(session, summary="Planilha de clientes enviada ao e-mail errado",
                                detected_at=datetime(2026, 12, 1, 14,
                                                     tzinfo=UTC), timezone="America/Sao_Paulo",
                                actor="user:dpo", data_categories=["nome", "telefone"], subjects_affected=40,
                                risk="high")
        incident_id = incident.id
        late = incident_dict(incident, now=datetime(2026, 12, 10, tzinfo=UTC), timezone="America/Sao_Paulo")
        assert late["deadline"] == "2026-12-04" and late["overdue"]
    with session_scope(engine) as session:
        notified = update_incident(session, incident_id, {"anpd_notified_at": datetime(2026, 12, 3,
                                                                                       tzinfo=UTC)})
        assert not incident_dict(notified, now=datetime(2026, 12, 10, tzinfo=UTC))["overdue"]


def test_bad_incident_fields_are_named(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as risk, session_scope(engine) as session:
        add_incident(session, summary="x", detected_at=datetime(2026, 12, 1, tzinfo=UTC), timezone="UTC",
                     actor="user:dpo", risk="catastrophic")
    with session_scope(engine) as session, pytest.raises(ValidationFailed) as field:
        update_incident(session, "nope", {"deadline": "2027-01-01"})
    with session_scope(engine) as session, pytest.raises(NotFound) as missing:
        update_incident(session, "nope", {"risk": "low"})
    assert risk.value.field == "privacy_incident.risk" and field.value.field == "deadline"
    assert missing.value.field == "incident"
