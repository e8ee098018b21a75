"""The first opt-out of a number is confirmed once, in pt-BR, through the channel's own transport."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from api.webhooks.opt_out import CONFIRMATION, apply_opt_out, confirm
from connectors.base import Runtime
from connectors.messaging.twilio import TwilioSettings
from connectors.sms import SmsConnector
from store.models import Suppression


def stages(outbox: Path) -> Any:
    """The part of the engine's core ``confirm`` uses: the runner's connectors (SMS on the file transport)."""
    sms = SmsConnector(TwilioSettings.model_validate({"transport": "file", "from": "+5511999990000"}),
                       Runtime(outbox=outbox))
    return SimpleNamespace(runner=SimpleNamespace(connectors={"sms": sms}))


def test_a_new_opt_out_is_confirmed_once_and_a_second_keyword_sends_nothing(
        db_engine: sa.Engine, tmp_path: Path) -> None:
    core = stages(tmp_path / "outbox")
    for sid in ("SM1", "SM2", "SM3"):
        with Session(db_engine) as session:
            opt_out = apply_opt_out(session, "+5511987654321", "PARAR", "sms", sid)
            session.commit()
        assert opt_out is not None
        confirm(core, db_engine, "sms", "+5511987654321", opt_out)
        confirm(core, db_engine, "sms", "+5511987654321", opt_out)  # a retried webhook
    files = sorted((tmp_path / "outbox" / "sms").glob("*.json"))
    assert len(files) == 1
    sent = json.loads(files[0].read_text(encoding="utf-8"))
    assert (sent["to"], sent["text"]) == ("+5511987654321", CONFIRMATION)
    with Session(db_engine) as session:
        assert session.exec(select(Suppression)).one().confirmation_sent_at is not None


def test_an_ordinary_message_is_no_opt_out(db_engine: sa.Engine) -> None:
    with Session(db_engine) as session:
        assert apply_opt_out(session, "+5511987654321", "Obrigada, até amanhã!", "sms", "SM9") is None
