"""The connectors' notification path (core statements) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from store import messaging
from store.db import session_scope
from store.errors import ValidationFailed
from store.models import Notification, RuleRun, RuleStep


def step(engine: sa.Engine, key: str) -> str:
    with session_scope(engine) as s:
        run = RuleRun(rule_id="test-rule")
        s.add(run)
        s.flush()
        row = RuleStep(run_id=run.id, action="sms.send", idempotency_key=key)
        s.add(row)
    return row.id


def columns(status: str, history: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"channel": "sms", "recipient": "+5511987654321", "body": "Olá",
                              "status": "pending", "error_code": None, "error_message": None}
    values.update(fields)
    values.update(messaging.status_change({"status": "pending", "status_history": history or []}, status))
    return values


def test_a_retry_updates_the_row_of_the_first_try_and_keeps_its_history(engine: sa.Engine) -> None:
    step_id = step(engine, "rule:event:0")
    with session_scope(engine) as s:
        first = messaging.save_notification(s.connection(), None, columns("pending", step_id=step_id))
    with session_scope(engine) as s:
        found_step, earlier = messaging.step_and_earlier_try(s.connection(), None, "rule:event:0", "sms")
        assert (found_step, earlier and earlier.id, earlier and earlier.done) == (step_id, first, False)
        assert earlier is not None
        messaging.save_notification(s.connection(), earlier.id, columns(
            "sent", earlier.status_history, step_id=step_id, provider="twilio", provider_id="SM1"))
    with Session(engine) as s:
        row = s.get(Notification, first)
        assert row is not None
        assert (row.status, row.provider_id, row.sent_at is not None) == ("sent", "SM1", True)
        assert [entry["status"] for entry in row.status_history] == ["pending", "sent"]
    with session_scope(engine) as s:
        _, earlier = messaging.step_and_earlier_try(s.connection(), step_id, "ignored", "sms")
        assert earlier is not None and earlier.done
        assert messaging.step_and_earlier_try(s.connection(), step_id, "ignored", "email") == (step_id, None)
        assert messaging.step_and_earlier_try(s.connection(), None, "no-such-key", "sms") == (None, None)


def test_the_calls_of_a_for_each_step_each_find_only_their_own_row(engine: sa.Engine) -> None:
    step_id = step(engine, "rule:event:0")
    keys = ["rule:event:0#a", "rule:event:0#b"]
    with session_scope(engine) as s:
        sent = columns("sent", step_id=step_id, provider="twilio", provider_id="SM1")
        own_id = messaging.item_notification_id(keys[0])
        first = messaging.save_notification(s.connection(), None, sent, own_id)
    assert first == messaging.item_notification_id(keys[0])  # derived from the call's key: a retry finds it
    with session_scope(engine) as s:
        _, earlier = messaging.step_and_earlier_try(s.connection(), step_id, keys[0], "sms", item=True)
        assert earlier is not None and (earlier.id, earlier.done) == (first, True)
        assert messaging.step_and_earlier_try(s.connection(), step_id, keys[1], "sms", item=True) \
            == (step_id, None)
        assert messaging.step_and_earlier_try(s.connection(), step_id, keys[0], "email", item=True) \
            == (step_id, None)


def test_recipient_opt_outs_find_the_customer_by_email_in_any_case_or_by_phone(
        engine: sa.Engine, make_customer: Callable[..., Any]) -> None:
    customer = make_customer(opt_outs=["sms"])
    with session_scope(engine) as s:
        conn = s.connection()
        assert messaging.recipient_opt_outs(conn, "email", " Maria@Example.com") == (customer.id, ["sms"])
        assert messaging.recipient_opt_outs(conn, "phone", "+5511987654321") == (customer.id, ["sms"])
        assert messaging.recipient_opt_outs(conn, "phone", "+5511900000000") is None


def test_the_models_checks_run_on_core_writes_too(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed, match=r"notification\.recipient"), session_scope(engine) as s:
        messaging.save_notification(s.connection(), None, columns("failed", recipient=" "))
