"""What email, SMS and WhatsApp share: recipient → opt-out and ledger → transport → record.

A messaging connector declares its channel, how a recipient is addressed
(``addressed_by``: the customer is found by email or by phone), the
transports it accepts, and ``compose()``: the call's message as a ``Draft``.
``execute`` then runs the same steps for every channel:

1. ``compose`` — a message no transport may take (an invalid number, too
   long) comes back refused, and is recorded as failed, then raised;
2. the ledger: an earlier try of this step that sent returns its outputs;
   an address on the suppression list, an opted-out customer, a marketing
   message without the customer's consent (``purpose``), or the channel's
   ``before_send`` check (the WhatsApp window), refuses the send and
   records it — here, once, for every channel;
3. the transport sends (``file``, ``smtp``, ``twilio``);
4. the outcome is recorded, with the channel's ``after_send`` in the same
   transaction; a transport error saying the recipient refused the channel
   marks the customer opted out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from connectors.base import ActionCall, Connector, ConnectorSettings, Runtime
from connectors.messaging.outgoing import Draft, Sent, Transport
from connectors.messaging.purpose import purpose_of
from errors import ConnectorError, PermanentError, TransientError

if TYPE_CHECKING:
    from sqlmodel import Session

    from connectors.messaging.ledger import Attempt, Ledger

TransportFactory = Callable[[ConnectorSettings, Runtime, str], Transport]


class MessagingConnector(Connector):
    """Base of the email, SMS and WhatsApp connectors; subclasses set the class attributes below."""

    channel: ClassVar[str]
    addressed_by: ClassVar[Literal["email", "phone"]]
    transports: ClassVar[Mapping[str, TransportFactory]]
    id_output: ClassVar[str] = "message_sid"  # the name of the provider's id among the outputs

    def __init__(self, settings: ConnectorSettings | None = None, runtime: Runtime | None = None) -> None:
        super().__init__(settings, runtime)
        self._transport: Transport | None = None
        self._lock = threading.Lock()
        self._ledger: Ledger | None = None

    # --- what each channel says -------------------------------------------------------------------

    def compose(self, call: ActionCall) -> Draft:
        raise NotImplementedError

    def before_send(self, session: Session, draft: Draft) -> None:
        """A channel's own refusal, read in the ledger's transaction; raises ``PermanentError``."""

    def after_send(self, session: Session, draft: Draft, notification_id: str | None, sent: Sent) -> None:
        """Runs in the transaction that records the send."""

    def after_opt_out(self, session: Session, draft: Draft) -> None:
        """Runs in the transaction that records the provider's opt-out (Twilio's 21610)."""

    # --- the same for every channel ---------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """One transport per connector, so its connections (SMTP, Twilio's HTTP) are reused."""
        with self._lock:
            if self._transport is None:
                name = self.settings.transport
                factory = self.transports.get(name)
                if factory is None:
                    raise PermanentError(f"{self.name} cannot send over transport '{name}' "
                                         f"(one of: {', '.join(self.transports)})", code="not_supported")
                self._transport = factory(self.settings, self.runtime, self.channel)
            return self._transport

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            # imported here: it loads the store's models, which validating rules does not need
            from connectors.messaging.ledger import Ledger

            self._ledger = Ledger(self.runtime, self.channel, self.addressed_by)
        return self._ledger

    def check(self) -> dict[str, Any]:
        return self.transport.check()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def execute(self, call: ActionCall) -> dict[str, Any]:
        draft = self.compose(call)
        ledger = self.ledger
        if draft.refusal is not None:
            ledger.refuse(call, draft.message, draft.refusal)
        attempt = ledger.begin(call, draft.message, address=draft.address, recipients=draft.recipients,
                               purpose=purpose_of(call.params),
                               check=lambda session: self.before_send(session, draft))
        if attempt.previous is not None:
            return self.outputs(attempt.previous, draft)
        try:
            sent = self.transport.send(draft.content, call.idempotency_key)
        except (PermanentError, TransientError) as exc:  # a transport not configured is recorded too
            attempt.failed(exc, self._on_failure(exc, attempt, draft))
            raise
        recorded = attempt.sent(sent, lambda session: self.after_send(session, draft,
                                                                      attempt.notification_id, sent))
        return self.outputs(recorded, draft)

    def outputs(self, recorded: dict[str, Any], draft: Draft) -> dict[str, Any]:
        outputs = {self.id_output: recorded["provider_id"], "status": recorded["status"], **draft.outputs,
                   "notification_id": recorded.get("notification_id")}
        for extra in ("refused", "duplicate"):
            if recorded.get(extra):
                outputs[extra] = recorded[extra]
        return outputs

    def _on_failure(self, error: ConnectorError, attempt: Attempt,
                     draft: Draft) -> Callable[[Session], None] | None:
        refused = self._transport.opted_out_codes if self._transport is not None else frozenset()
        if not (isinstance(error, PermanentError) and error.code in refused):
            return None

        def opted_out(session: Session) -> None:
            self.ledger.mark_opted_out(session, attempt)
            self.after_opt_out(session, draft)
        return opted_out
