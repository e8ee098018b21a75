"""The record of every message: one notification row per step, written with the outcome.

``Ledger.begin`` and the ``Attempt`` it returns keep no transaction open
while the transport sends:

1. before (reads only): find what this step already sent — a redelivered or
   retried step returns that instead of sending twice (Twilio and SMTP take no
   idempotency key, so the check is ours) — refuse suppressed addresses,
   opted-out recipients and marketing without consent, then run the
   channel's own checks (the WhatsApp window); a refusal is written as a
   ``failed`` row, then raised;
2. the send itself, by the transport;
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
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection
from sqlmodel import Session

from connectors.base import ActionCall, Runtime
from connectors.messaging.outgoing import Message, Sent
from connectors.messaging.purpose import Purpose
from connectors.outbox import outbox_path, write_once
from errors import ConnectorError, PermanentError, SendRefused
from personal_data import mask_text
from store import consent, messaging, suppressions
from store.models import Customer

Check = Callable[[Session], None]


class Attempt:
    """One attempt of one step's send; see ``Ledger.begin``."""

    def __init__(self, ledger: Ledger, call: ActionCall, message: Message) -> None:
        self.ledger = ledger
        self.call = call
        self.message = message
        self.step_id: str | None = call.step_id
        self.earlier: messaging.SentBefore | None = None  # the row of an earlier try
        self.notification_id: str | None = None
        self.customer_id: str | None = None
        self.previous: dict[str, Any] | None = None  # outputs of an earlier try that sent

    def sent(self, result: Sent, after: Check | None = None) -> dict[str, Any]:
        """Record the provider's acceptance; ``after`` runs in the same transaction."""
        if self.ledger.runtime.session is None:
            outputs = self._outputs(result)
            self.ledger.write_marker(self.call, outputs)
            return outputs
        status = messaging.PROVIDER_STATUS.get(result.provider_status, "sent")
        with self.ledger.runtime.session() as session:
            self._save(session, status, provider=result.provider, provider_id=result.provider_id,
                       provider_status=result.provider_status, detail=self.detail(result.detail))
            if after is not None:
                after(session)
        return self._outputs(result)

    def failed(self, error: ConnectorError, after: Check | None = None) -> None:
        """Record a failed try: ``failed`` when permanent, still ``pending`` when it will be retried."""
        if self.ledger.runtime.session is None:
            return
        with self.ledger.runtime.session() as session:
            self.record_failure(session, error)
            if after is not None:
                after(session)

    def record_failure(self, session: Session, error: ConnectorError) -> None:
        permanent = isinstance(error, PermanentError)
        self._save(session, "failed" if permanent else "pending", detail=self.detail(str(error)),
                   error_code=error.code if isinstance(error, PermanentError) else "transient")

    def detail(self, text: str | None) -> str | None:
        extra = self.message.extra and json.dumps(self.message.extra, ensure_ascii=False, default=str)
        return "; ".join(part for part in (text, extra) if part) or None

    def _save(self, session: Session, status: str, *, detail: str | None, error_code: str | None = None,
              provider: str | None = None, provider_id: str | None = None,
              provider_status: str | None = None) -> None:
        """This step's row: the earlier try's, starting over as ``pending``, or a new one."""
        message = self.message
        history = self.earlier.status_history if self.earlier is not None else []
        columns: dict[str, Any] = {
            "step_id": self.step_id, "customer_id": self.customer_id, "channel": message.channel,
            "recipient": message.recipient[:254], "template": message.template, "subject": message.subject,
            "body": message.body, "encoding": message.encoding, "segments": message.segments,
            "provider": provider, "provider_id": provider_id, "status": "pending",
            "error_code": None, "error_message": None, "sent_at": None, "delivered_at": None,
        }
        columns.update(messaging.status_change({"status": "pending", "status_history": history}, status,
                                               detail=detail, error_code=error_code,
                                               provider_status=provider_status))
        row_id = self.earlier.id if self.earlier is not None else None
        own_id = messaging.item_notification_id(self.call.idempotency_key) if self.call.item_key else None
        self.notification_id = messaging.save_notification(session.connection(), row_id, columns, own_id)
        self.earlier = messaging.SentBefore(self.notification_id, columns["status"], provider_id,
                                            columns["status_history"])

    def _outputs(self, result: Sent) -> dict[str, Any]:
        return {"provider_id": result.provider_id, "status": result.provider_status,
                "notification_id": self.notification_id, **result.outputs}


class Ledger:
    """Notification rows (or marker files) for one channel."""

    def __init__(self, runtime: Runtime, channel: str, addressed_by: Literal["email", "phone"]) -> None:
        self.runtime = runtime
        self.channel = channel
        self.addressed_by = addressed_by

    def begin(self, call: ActionCall, message: Message, *, address: str | None = None,
              recipients: tuple[str, ...] = (), purpose: Purpose = "transactional",
              check: Check | None = None) -> Attempt:
        """Open an attempt; ``attempt.previous`` is set when this step already sent its message.

        ``address`` finds the customer (by email or phone, as the channel is
        addressed); ``recipients`` (``address`` when empty) are checked against
        the suppression list. Raises ``PermanentError`` (after recording it)
        when an address is suppressed (code ``suppressed``), the customer opted
        out of the channel (``opted_out``) or ``check`` refuses the send; a
        ``marketing`` message is refused with ``SendRefused`` instead, and also
        when the customer has no current consent for the channel (``no_consent``).
        """
        attempt = Attempt(self, call, message)
        if self.runtime.session is None:
            attempt.previous = self.read_marker(call)
            if attempt.previous is None and purpose == "marketing":
                raise SendRefused(f"marketing {self.channel} needs the customer's consent, and without a "
                                  "database there is no consent record; not sent", code="no_consent")
            return attempt
        refusal: PermanentError | None = None
        with self.runtime.session() as session:
            conn = session.connection()
            attempt.step_id, earlier = messaging.step_and_earlier_try(
                conn, call.step_id, call.idempotency_key, self.channel, item=call.item_key is not None)
            attempt.earlier = earlier
            if earlier is not None:
                attempt.notification_id = earlier.id
                if earlier.done:
                    attempt.previous = {"provider_id": earlier.provider_id, "status": earlier.status,
                                        "notification_id": earlier.id, "duplicate": True}
                    return attempt
            found = messaging.recipient_opt_outs(conn, self.addressed_by, address) if address else None
            attempt.customer_id = found[0] if found else None
            try:
                self._may_send(conn, found, recipients or ((address,) if address else ()), purpose)
                if check is not None:
                    check(session)
            except PermanentError as exc:
                # recorded in this transaction, raised after it commits
                attempt.record_failure(session, exc)
                refusal = exc
        if refusal is not None:
            raise refusal
        return attempt

    def _may_send(self, conn: Connection, customer: tuple[str, list[str]] | None,
                  recipients: tuple[str, ...], purpose: Purpose) -> None:
        """The one check every channel makes: suppression list, opt-out, and consent for marketing."""
        refused: type[PermanentError] = SendRefused if purpose == "marketing" else PermanentError
        listed = suppressions.suppressed_on(conn, recipients, self.channel)
        if listed is not None:
            on = "every channel" if listed.channel == "all" else listed.channel
            raise refused(f"{mask_text(listed.address)} is on the suppression list for {on} "
                          f"({listed.reason}, {mask_text(listed.source)}); not sent", code="suppressed")
        who = mask_text(", ".join(recipients)) or "the recipient"
        if customer is not None and self.channel in customer[1]:
            raise refused(f"{who} opted out of {self.channel}; not sent", code="opted_out")
        if purpose == "marketing" and (customer is None or not consent.has_consent(conn, customer[0],
                                                                                   self.channel)):
            whose = "no customer has this address" if customer is None else "no current consent recorded"
            raise SendRefused(f"marketing {self.channel} to {who} refused: {whose} (legal basis: consent); "
                              "not sent", code="no_consent")

    def refuse(self, call: ActionCall, message: Message, error: PermanentError) -> None:
        """Record a send refused before any request (invalid number, too long...), then raise it."""
        if self.runtime.session is not None:
            def refuse(session: Session) -> None:
                raise error
            self.begin(call, message, check=refuse)
        raise error

    @staticmethod
    def mark_opted_out(session: Session, attempt: Attempt) -> None:
        """The provider says the recipient refused the channel (Twilio's 21610): remember it."""
        found = session.get(Customer, attempt.customer_id) if attempt.customer_id else None
        if found is not None:
            messaging.mark_opted_out(session, found, attempt.ledger.channel)

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
