"""A project whose messages go to real local peers, for replaying attacks end to end.

Rule file + event → the engine core (driven by hand) → the email connector
over SMTP to aiosmtpd, or the SMS/WhatsApp connectors through the real
``twilio`` client to the fake Twilio; each test then looks at what the peer
received and at the dead letter the step left.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from sqlmodel import Session, select

from store.migrate import upgrade
from store.models.runs import DeadLetter
from tests.engine.runtime.pipeline_helpers import Driver, make_driver
from tests.fakes.smtp import SmtpServer, smtp_server
from tests.fakes.twilio import FakeTwilio, twilio_server

SENDER = "Refrigeração Paulista <atendimento@refrigeracaopaulista.com.br>"
SECRET = "jwt-signing-key-that-must-never-leave"


@dataclass
class Project:
    root: Path
    driver: Driver

    @property
    def var(self) -> Path:
        return self.root / "var"

    def emit(self, event_type: str, event_id: str = "e1", **data: Any) -> None:
        self.driver.emit(event_type, event_id, **data)
        self.driver.drain()

    def dead_letters(self) -> list[DeadLetter]:
        with Session(self.driver.core.db) as session:
            return list(session.exec(select(DeadLetter)))

    def dead_letter(self) -> DeadLetter:
        (letter,) = self.dead_letters()
        return letter


def make_project(root: Path, rules: str, connectors: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> Project:
    """Rules, templates, an attachments folder, a JWT key file under var/api/ (a secret worth
    stealing), the given ``connectors:`` section and ``extra`` sections of the config."""
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(textwrap.dedent(rules).lstrip(), encoding="utf-8")
    for channel in ("email", "sms", "whatsapp"):
        (root / "templates" / channel).mkdir(parents=True)
    (root / "var" / "attachments").mkdir(parents=True)
    (root / "var" / "api").mkdir(parents=True)
    (root / "var" / "api" / "jwt.keys").write_text(f"k1:{SECRET}\n", encoding="utf-8")
    database = f"sqlite:///{root / 'despacho.db'}"
    config = {
        "rules": {"path": str(root / "rules")}, "templates": {"path": str(root / "templates")},
        "outbox": {"path": str(root / "var" / "outbox")}, "database": {"url": database},
        "broker": {"url": "stub://"}, "api": {"jwt_keys_file": str(root / "var" / "api" / "jwt.keys")},
        # backup.run writes its call to the outbox (a file to attach), no restic repository
        "connectors": {"backup": {"transport": "file"}, **connectors},
        "secrets": {"keys_file": str(root / "var" / "secrets.keys")}, **(extra or {}),
    }
    # JSON is YAML: no quoting surprises in paths
    (root / "config.yaml").write_text(json.dumps(config), encoding="utf-8")
    upgrade(database)
    return Project(root, make_driver(root / "config.yaml"))


def email_settings(server: SmtpServer, root: Path, **overrides: Any) -> dict[str, Any]:
    return {"transport": "smtp", "host": server.host, "port": server.port, "security": "none",
            "timeout": 5, "from": SENDER, "attachments_dir": str(root / "var" / "attachments"), **overrides}


def twilio_settings(fake: FakeTwilio, **overrides: Any) -> dict[str, Any]:
    return {"transport": "twilio", "account_sid": fake.account_sid, "auth_token": fake.auth_token,
            "from": "+5511999990000", "api_base_url": fake.url, "timeout": 5, "status_callbacks": False,
            **overrides}


@contextmanager
def smtp_peer(tmp_path: Path) -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback, no TLS and no AUTH: the attack is in the message, not the link."""
    with smtp_server(trustme.CA(), tmp_path, "none", auth=False) as server:
        yield server


@contextmanager
def twilio_peer() -> Iterator[FakeTwilio]:
    with twilio_server() as fake:
        yield fake
