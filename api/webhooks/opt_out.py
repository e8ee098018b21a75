"""An inbound SMS or WhatsApp message that is an opt-out keyword: the sender leaves every channel.

The number goes on the global suppression list for ``all`` channels (the
messaging base refuses it from then on, whatever the rule), the customer
behind it is marked opted out of the channel it wrote on, and their
marketing consent is withdrawn on every channel, with the message as proof.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session

from connectors.messaging.base import MessagingConnector
from connectors.messaging.keywords import opt_out_keyword
from connectors.messaging.phones import WHATSAPP_PREFIX
from connectors.messaging.twilio import TextMessage, TwilioSettings
from connectors.whatsapp import sender_address
from errors import ConnectorError
from personal_data import mask_error, mask_phone
from store import consent, messaging, suppressions
from store.errors import ValidationFailed

if TYPE_CHECKING:
    from engine.runtime.compose import Core

log = logging.getLogger("despacho.api.webhooks.opt_out")


CONFIRMATION = ("Você não receberá mais mensagens nossas neste número. "
                "Para voltar a recebê-las, fale com a nossa equipe.")


@dataclass(frozen=True)
class OptOut:
    keyword: str
    suppression_id: str | None  # None: the sender is not a phone number (nothing suppressed)
    new: bool  # the first opt-out of this number: the one that gets a confirmation


def apply_opt_out(session: Session, phone: str, body: str, channel: str, sid: str) -> OptOut | None:
    """Suppress ``phone`` when ``body`` is an opt-out keyword; None when it is not one."""
    keyword = opt_out_keyword(body)
    if keyword is None:
        return None
    source = f"{channel}_optout:{sid}"[:200]
    try:
        row, new = suppressions.suppress(session, phone, "all", reason=f"keyword {keyword}", source=source)
    except ValidationFailed:
        log.info("opt-out keyword from %s, which is not a phone number: ignored", mask_phone(phone))
        return OptOut(keyword, None, False)
    customer = messaging.customer_by_phone(session, phone)
    if customer is not None:
        messaging.mark_opted_out(session, customer, channel)
        consent.withdraw_all(session, customer.id, source=source, actor="customer")
    log.info("opt_out %s by %s on %s (new: %s)", keyword, mask_phone(phone), channel, new)
    return OptOut(keyword, row.id, new)


def confirm(core: Core | None, engine: sa.Engine, channel: str, phone: str, opt_out: OptOut) -> None:
    """Tell the customer, once, on the channel they wrote on, through that connector's own transport.

    The confirmation is claimed before it is sent (``mark_confirmed``), so a retried webhook or a
    second keyword never sends it twice; it skips the suppression check (it answers the opt-out).
    A send that fails is logged, not retried: the opt-out itself is already recorded.
    """
    if not opt_out.new or opt_out.suppression_id is None:
        return
    connector = core.runner.connectors.get(channel) if core is not None else None
    if not isinstance(connector, MessagingConnector):
        log.warning("opt-out of %s recorded; no %s connector in this process to confirm it",
                    mask_phone(phone), channel)
        return
    with Session(engine) as session:
        claimed = suppressions.mark_confirmed(session, opt_out.suppression_id)
        session.commit()
    if not claimed:
        return
    settings = connector.settings
    assert isinstance(settings, TwilioSettings)
    to = phone if channel == "sms" else WHATSAPP_PREFIX + phone.removeprefix(WHATSAPP_PREFIX)
    sender = settings.from_ if channel == "sms" else sender_address(settings.from_)
    message = TextMessage(to=to, from_=sender, body=CONFIRMATION, preview={"text": CONFIRMATION})
    try:
        connector.transport.send(message, f"opt-out-confirmation:{opt_out.suppression_id}")
    except ConnectorError as exc:
        log.warning("opt-out confirmation to %s not sent: %s", mask_phone(phone), mask_error(exc))
