"""Time zone names: an offset written as a zone gets the IANA names at that offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.language.timezones import check_timezone, zones_with_offset


@pytest.mark.parametrize("offset", ["UTC-3", "GMT-3", "-03:00", "utc -3", "UTC-03"])
def test_an_offset_gets_the_zones_that_have_it_sao_paulo_first(offset: str) -> None:
    with pytest.raises(ValueError, match=r"zones at .* now: America/Sao_Paulo, America/") as caught:
        check_timezone(offset)
    assert "did you mean 'UTC'" not in str(caught.value)


def test_a_positive_offset_with_minutes_is_read() -> None:
    with pytest.raises(ValueError, match=r"zones at UTC\+05:30 now: Asia/Colombo, Asia/Kolkata\)"):
        check_timezone("UTC+05:30")


def test_an_offset_no_zone_has_says_to_use_a_name() -> None:
    with pytest.raises(ValueError, match="use an IANA name like 'America/Sao_Paulo', not an offset"):
        check_timezone("UTC-13")


def test_the_offset_is_judged_at_the_moment_asked() -> None:
    july, january = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC)
    assert "Europe/Lisbon" in zones_with_offset(timedelta(hours=1), july)
    assert "Europe/Lisbon" not in zones_with_offset(timedelta(hours=1), january)


def test_a_misspelt_name_still_gets_did_you_mean() -> None:
    with pytest.raises(ValueError, match="did you mean 'America/Sao_Paulo'"):
        check_timezone("America/Sao_Paolo")
    assert check_timezone("America/Bahia") == "America/Bahia"
