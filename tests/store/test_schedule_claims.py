"""Schedule claims: one per (rule, fire time), and the latest one is where catch-up starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.errors import ValidationFailed
from store.schedule_claims import claim_fire, last_fire

AT = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


def test_a_fire_is_claimed_once(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        assert claim_fire(session, "nightly", AT) is True
    with session_scope(engine) as session:
        assert claim_fire(session, "nightly", AT) is False
        assert claim_fire(session, "other", AT) is True  # another rule, same time


def test_last_fire_is_the_latest_claim_of_that_rule_and_comes_back_aware(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        assert last_fire(session, "nightly") is None
        for days in (0, 2, 1):
            claim_fire(session, "nightly", AT + timedelta(days=days))
        claim_fire(session, "other", AT + timedelta(days=9))
    with engine.connect() as connection:
        assert last_fire(connection, "nightly") == AT + timedelta(days=2)


def test_a_naive_fire_time_is_refused_naming_the_field(engine: sa.Engine) -> None:
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match=r"schedule_claim\.fire_at"):
        claim_fire(session, "nightly", datetime(2026, 12, 1, 5, 0))
