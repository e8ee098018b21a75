"""``plus`` and ``minus``: duration arithmetic on times in templates, and reading a rendered time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.language.filters import parse_time
from engine.language.templating import TemplateRenderError, TemplateString

APPOINTMENT = {"appointment": {"starts_at": "2026-12-04T11:00:00+00:00"}}  # as store.payloads writes it


def render(source: str, data: dict | None = None) -> str:
    return TemplateString(source).render({"data": data if data is not None else APPOINTMENT})


def test_minus_and_plus_shift_a_payload_time_by_a_duration() -> None:
    assert parse_time(render("{{ data.appointment.starts_at | minus('24h') }}"), "UTC") == \
        datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert parse_time(render("{{ data.appointment.starts_at | plus('1h30m') }}"), "UTC") == \
        datetime(2026, 12, 4, 12, 30, tzinfo=UTC)


def test_a_shifted_time_feeds_the_brazilian_filters() -> None:
    assert render("{{ data.appointment.starts_at | minus('2h') | hora_br }}") == "06:00"
    assert render("{{ data.appointment.starts_at | plus('1d') | data_br('America/Manaus') }}") == "05/12/2026"


@pytest.mark.parametrize(("data", "message"), [
    ({"appointment": {"starts_at": "amanhã"}}, "minus: not a time: 'amanhã'"),
    ({"appointment": {"starts_at": 1733310000}}, "minus: not a time: 1733310000"),
    ({"appointment": {"starts_at": "x" * 500}}, "minus: not a time: 'xxxx"),
])
def test_minus_of_something_that_is_no_time_says_what_it_got(data: dict, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message.replace("(", r"\(")):
        render("{{ data.appointment.starts_at | minus('24h') }}", data)


@pytest.mark.parametrize("duration", ["1 day", "0m", "1.5h", "", "99999999999999999999w"])
def test_plus_with_a_bad_duration_is_a_render_error(duration: str) -> None:
    with pytest.raises(TemplateRenderError):
        render("{{ data.appointment.starts_at | plus('" + duration + "') }}")


def test_a_missing_field_names_itself() -> None:
    with pytest.raises(TemplateRenderError, match="starts"):
        render("{{ data.appointment.starts | minus('1h') }}")


def test_a_time_without_an_offset_is_read_in_the_given_zone() -> None:
    assert parse_time("2026-12-24 09:00", "America/Manaus") == datetime(2026, 12, 24, 13, 0, tzinfo=UTC)
    assert parse_time("2026-12-24", "UTC") == datetime(2026, 12, 24, tzinfo=UTC)
    assert parse_time(" 2026-12-24T09:00:00Z ", "UTC").utcoffset() == timedelta(0)
    assert parse_time(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3))), "UTC").hour == 0


@pytest.mark.parametrize("text", ["", "tomorrow", "24/12/2026", "2026-13-01T00:00:00Z", None])
def test_parse_time_refuses_what_is_no_time(text: object) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text, "UTC")
