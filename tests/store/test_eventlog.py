from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.errors import ValidationFailed
from store.eventlog import insert_event, mark_dispatched, record_event, undispatched


def test_an_event_delivered_twice_is_stored_once(engine: sa.Engine, at: datetime) -> None:
    with session_scope(engine) as s:
        assert insert_event(s, "twilio:SM1", "whatsapp.received", {"body": "oi"},
                            occurred_at=at, source="twilio")
    with session_scope(engine) as s:
        assert not insert_event(s, "twilio:SM1", "whatsapp.received", {"body": "changed"},
                                occurred_at=at, source="twilio")
    with session_scope(engine) as s:
        [event] = undispatched(s)
        assert event.payload == {"body": "oi"}


def test_event_without_time_zone_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        insert_event(s, "e1", "x", {}, occurred_at=datetime(2026, 1, 1), source="api")
    assert caught.value.field == "event.occurred_at"


def test_relay_sees_undispatched_events_oldest_first_until_marked(engine: sa.Engine,
                                                                  at: datetime) -> None:
    with session_scope(engine) as s:
        late = record_event(s, "b", {}, occurred_at=at + timedelta(minutes=1))
        early = record_event(s, "a", {}, occurred_at=at)
    with session_scope(engine) as s:
        assert [e.id for e in undispatched(s)] == [early.id, late.id]
        assert mark_dispatched(s, [early.id], at) == 1
    with session_scope(engine) as s:
        assert [e.id for e in undispatched(s)] == [late.id]


def test_marking_a_batch_counts_only_the_events_not_marked_before(engine: sa.Engine, at: datetime) -> None:
    with session_scope(engine) as s:
        ids = [record_event(s, "a", {"n": n}, occurred_at=at).id for n in range(3)]
    with session_scope(engine) as s:
        assert mark_dispatched(s, ids[:1], at) == 1
    with session_scope(engine) as s:
        assert mark_dispatched(s, ids, at) == 2
        assert undispatched(s) == []
