"""The ``file`` transport: each message as one JSON file under ``<outbox>/<channel>/``.

The embedded default. The file is written once per idempotency key (see
``connectors.outbox``), so a step run twice writes one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import ConnectorSettings, Runtime
from connectors.messaging.outgoing import Filed, Sent
from connectors.outbox import write_once


class FileTransport:
    name = "file"
    opted_out_codes: frozenset[str] = frozenset()

    def __init__(self, outbox: Path, channel: str) -> None:
        self.outbox = outbox
        self.channel = channel

    @classmethod
    def for_connector(cls, settings: ConnectorSettings, runtime: Runtime, channel: str) -> FileTransport:
        return cls(runtime.outbox, channel)

    def check(self) -> dict[str, Any]:
        return {"target": f"file:{self.outbox / self.channel}",
                "detail": "messages are written as JSON files"}

    def send(self, message: Filed, idempotency_key: str) -> Sent:
        path, _ = write_once(self.outbox, self.channel, idempotency_key, message.file_entry())
        return Sent(self.name, message.message_id or path.stem)

    def close(self) -> None:
        pass
