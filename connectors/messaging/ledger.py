"""The record of every message: one notification row per step, written with the outcome.

``Ledger.begin`` and the ``Attempt`` it returns keep no transaction open
while the provider is called:

1. before (reads only): find what this step already sent — a redelivered or
   retried step returns that instead of sending twice (Twilio and SMTP take no
   idempotency key, so the check is ours) — refuse opted-out recipients and
   run the channel's own checks (the WhatsApp window); a refusal is written
   as a ``failed`` row, then raised;
2. the send itself, by the connector;
3. after: one transaction writes the row with the provider id and ``sent``,
   or with the error and its code (``failed``, or ``pending`` when it will be
   retried). A retry updates the same row, so its history shows every try.

One commit per message, not two: a ``pending`` row written before the send
would not make a crashed send safer to repeat (delivery is at least once
either way), and commits are what a database does fewest of per second.

Without a database there are no rows; a marker file per idempotency key in
``<outbox>/.sent/`` keeps a step from sending twice all the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from connectors.base import ActionCall, Runtime
from connectors.outbox import outbox_path, write_once
from errors import ConnectorError, PermanentError, TransientError
from store import messaging
from store.models import Customer, Notification

Check = Callable[[Session], None]


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


class Attempt:
    """One attempt of one step's send; see ``Ledger.begin``."""

    def __init__(self, ledger: Ledger, call: ActionCall, message: Message) -> None:
        self.ledger = ledger
        self.call = call
        self.message = message
        self.notification_id: str | None = None  # the row of an earlier try, else set when written
        self.step_id: str | None = call.step_id
        self.customer_id: str | None = None
        self.previous: dict[str, Any] | None = None

    def row(self, session: Session) -> Notification:
        """This step's row: the earlier try's (starting over), or a new one."""
        found = session.get(Notification, self.notification_id) if self.notification_id else None
        message = self.message
        if found is None:
            found = Notification(step_id=self.step_id, channel=message.channel,
                                 recipient=message.recipient[:254])
        else:
            found.status, found.error_code, found.error_message = "pending", None, None
        found.recipient = message.recipient[:254]
        found.customer_id = self.customer_id
        found.template, found.subject, found.body = message.template, message.subject, message.body
        found.encoding, found.segments = message.encoding, message.segments
        session.add(found)
        session.flush()
        self.notification_id = found.id
        return found

    def detail(self, text: str | None) -> str | None:
        extra = self.message.extra and json.dumps(self.message.extra, ensure_ascii=False, default=str)
        return "; ".join(part for part in (text, extra) if part) or None

    def sent(self, result: Sent, after: Check | None = None) -> dict[str, Any]:
        """Record the provider's acceptance; ``after`` runs in the same transaction."""
        if self.ledger.runtime.session is None:
            outputs = self._outputs(result)
            self.ledger.write_marker(self.call, outputs)
            return outputs
        with self.ledger.runtime.session() as session:
            row = self.row(session)
            row.provider, row.provider_id = result.provider, result.provider_id
            messaging.append_status(row, messaging.PROVIDER_STATUS.get(result.provider_status, "sent"),
                                    provider_status=result.provider_status, detail=self.detail(result.detail))
            session.add(row)
            if after is not None:
                after(session)
        return self._outputs(result)

    def _outputs(self, result: Sent) -> dict[str, Any]:
        return {"provider_id": result.provider_id, "status": result.provider_status,
                "notification_id": self.notification_id, **result.outputs}

    def failed(self, error: ConnectorError, after: Check | None = None) -> None:
        """Record a failed try: ``failed`` when permanent, still ``pending`` when it will be retried."""
        if self.ledger.runtime.session is None:
            return
        with self.ledger.runtime.session() as session:
            self.record_failure(session, error)
            if after is not None:
                after(session)

    def record_failure(self, session: Session, error: ConnectorError) -> None:
        row = self.row(session)
        permanent = isinstance(error, PermanentError)
        messaging.append_status(row, "failed" if permanent else "pending", detail=self.detail(str(error)),
                                error_code=error.code if isinstance(error, PermanentError) else "transient")
        session.add(row)


class Ledger:
    """Notification rows (or marker files) for one channel."""

    def __init__(self, runtime: Runtime, channel: str) -> None:
        self.runtime = runtime
        self.channel = channel

    def begin(self, call: ActionCall, message: Message, *,
              customer: Callable[[Session], Customer | None] | None = None,
              check: Check | None = None) -> Attempt:
        """Open an attempt; ``attempt.previous`` is set when this step already sent its message.

        Raises ``PermanentError`` (after recording it) when the customer opted
        out of the channel (code ``opted_out``) or ``check`` refuses the send.
        """
        attempt = Attempt(self, call, message)
        if self.runtime.session is None:
            attempt.previous = self.read_marker(call)
            return attempt
        refusal: PermanentError | None = None
        with self.runtime.session() as session:
            attempt.step_id = call.step_id or messaging.step_id_for_key(session, call.idempotency_key)
            earlier = (messaging.notification_for_step(session, attempt.step_id, self.channel)
                       if attempt.step_id else None)
            if earlier is not None:
                attempt.notification_id = earlier.id
                if earlier.status in messaging.DONE_STATUSES and earlier.provider_id:
                    attempt.previous = {"provider_id": earlier.provider_id, "status": earlier.status,
                                        "notification_id": earlier.id, "duplicate": True}
                    return attempt
            found = customer(session) if customer else None
            attempt.customer_id = found.id if found else None
            try:
                if messaging.is_opted_out(found, self.channel):
                    raise PermanentError(f"{message.recipient} opted out of {self.channel}; not sent",
                                         code="opted_out")
                if check is not None:
                    check(session)
            except PermanentError as exc:
                # recorded in this transaction, raised after it commits
                attempt.record_failure(session, exc)
                refusal = exc
        if refusal is not None:
            raise refusal
        return attempt

    def refuse(self, call: ActionCall, message: Message, error: PermanentError) -> None:
        """Record a send refused before any request (invalid number, too long...), then raise it."""
        if self.runtime.session is not None:
            def refuse(session: Session) -> None:
                raise error
            self.begin(call, message, check=refuse)
        raise error

    def opted_out(self, lookup: Callable[[Session], Customer | None],
                  also: Check | None = None) -> None:
        """The provider says the recipient refused the channel (Twilio's 21610): remember it."""
        if self.runtime.session is None:
            return
        with self.runtime.session() as session:
            found = lookup(session)
            if found is not None:
                messaging.mark_opted_out(session, found, self.channel)
            if also is not None:
                also(session)

    # --- without a database ------------------------------------------------------------------

    def _marker(self, call: ActionCall) -> Path:
        return outbox_path(self.runtime.outbox / ".sent", self.channel, call.idempotency_key)

    def read_marker(self, call: ActionCall) -> dict[str, Any] | None:
        path = self._marker(call)
        if not path.is_file():
            return None
        saved = json.loads(path.read_text(encoding="utf-8"))
        return {**saved.get("outputs", {}), "duplicate": True}

    def write_marker(self, call: ActionCall, outputs: dict[str, Any]) -> None:
        write_once(self.runtime.outbox / ".sent", self.channel, call.idempotency_key, {"outputs": outputs})


def recorded(attempt: Attempt, send: Callable[[], Sent], *, after: Check | None = None,
             on_error: Callable[[ConnectorError], Check | None] | None = None) -> dict[str, Any]:
    """Run ``send`` and record its outcome on the attempt; errors are recorded, then re-raised."""
    try:
        result = send()
    except (PermanentError, TransientError) as exc:
        attempt.failed(exc, on_error(exc) if on_error else None)
        raise
    return attempt.sent(result, after)
