"""What passes between a messaging connector, its transport and the ledger.

A connector composes a ``Draft``: the message its transport sends (an
``Email``, a ``TextMessage``), the ``Message`` fields its notification row
keeps, and the address that finds the customer. A transport sends the
message and answers ``Sent``, or raises ``TransientError`` /
``PermanentError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from errors import PermanentError


class Filed(Protocol):
    """A message the file transport can write: its JSON body and, if it has one, its own id."""

    @property
    def message_id(self) -> str | None: ...

    def file_entry(self) -> dict[str, Any]: ...


class Transport(Protocol):
    """Where messages go: a folder, an SMTP server, Twilio."""

    name: str  # recorded as the notification's provider
    opted_out_codes: frozenset[str]  # error codes saying the recipient refused the channel

    def check(self) -> dict[str, Any]: ...

    def send(self, message: Any, idempotency_key: str) -> Sent: ...

    def close(self) -> None: ...


@dataclass
class Message:
    """What is about to be sent, as the notification row keeps it."""

    channel: str
    recipient: str
    body: str
    subject: str | None = None
    template: str | None = None
    encoding: str | None = None
    segments: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # goes into the history with the outcome


@dataclass
class Sent:
    provider: str
    provider_id: str
    provider_status: str = "sent"
    detail: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)  # extra outputs of the step


@dataclass
class Draft:
    """One call's message, composed: for the transport, for the row, and who it is for.

    ``refusal`` is set when the message must not be sent (an invalid number,
    too long): it is recorded as a failed row, then raised. ``outputs`` are
    what the step returns besides the provider's id and status.
    """

    content: Any
    message: Message
    address: str | None = None
    refusal: PermanentError | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()  # every address it goes to (to, cc, bcc): each checked for suppression
