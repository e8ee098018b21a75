"""Event admission: allow-list patterns, every problem listed at once, and the source the server sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.clients import ClientState
from api.errors import Forbidden, InvalidRequest
from api.event_policy import admit
from engine.language.events import Event

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def client(*patterns: str) -> ClientState:
    return ClientState(active=True, event_types=patterns, event_source="erp")


@pytest.mark.parametrize(("patterns", "event_type"), [
    (("*",), "anything.at.all"),
    (("service_order.*",), "service_order.note.added"),  # '*' crosses dots, as documented
    (("invoice.paid", "payment.*"), "payment.received"),
])
def test_a_type_a_pattern_matches_is_admitted_with_the_clients_source(
        patterns: tuple[str, ...], event_type: str) -> None:
    [event] = admit([Event(type=event_type, at=NOW)], "event", "dc_1", client(*patterns), NOW, 300)
    assert event.source == "erp"


@pytest.mark.parametrize(("patterns", "event_type"), [
    (("service_order.*",), "service_order"),
    (("invoice.paid",), "invoice.paid_late"),
    ((), "invoice.paid"),
])
def test_a_type_no_pattern_matches_is_forbidden(patterns: tuple[str, ...], event_type: str) -> None:
    with pytest.raises(Forbidden) as raised:
        admit([Event(type=event_type, at=NOW)], "events", "dc_1", client(*patterns), NOW, 300)
    assert raised.value.code == "event_type_not_allowed"
    assert str(raised.value).startswith("events[0].type: client dc_1 may not send")


def test_every_reserved_field_of_every_event_is_listed_before_the_allow_list_is_asked() -> None:
    events = [Event(type="invoice.paid", at=NOW),
              Event(type="action.failed", id="run.completed:r1", at=NOW + timedelta(hours=1))]
    with pytest.raises(InvalidRequest) as raised:
        admit(events, "events", "dc_1", client(), NOW, 300)
    assert [d["loc"] for d in raised.value.details] == [
        ["body", 1, "type"], ["body", 1, "id"], ["body", 1, "at"]]
    assert str(raised.value).startswith("events[1].type: 'action.failed' events come only from the engine")


def test_the_skew_is_inclusive_and_configurable() -> None:
    assert admit([Event(type="a.b", at=NOW + timedelta(seconds=60))], "event", "dc_1", client("*"), NOW, 60)
    with pytest.raises(InvalidRequest, match=r"^event\.at: "):
        admit([Event(type="a.b", at=NOW + timedelta(seconds=61))], "event", "dc_1", client("*"), NOW, 60)
