"""An inbound SMS or WhatsApp message that is an opt-out keyword: the sender leaves every channel.

The number goes on the global suppression list for ``all`` channels (the
messaging base refuses it from then on, whatever the rule), the customer
behind it is marked opted out of the channel it wrote on, and their
marketing consent is withdrawn on every channel, with the message as proof.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from connectors.messaging.keywords import opt_out_keyword
from personal_data import mask_phone
from store import consent, messaging, suppressions
from store.errors import ValidationFailed

log = logging.getLogger("despacho.api.webhooks.opt_out")


def apply_opt_out(session: Session, phone: str, body: str, channel: str, sid: str) -> bool:
    """Suppress ``phone`` when ``body`` is an opt-out keyword; True when it was one."""
    keyword = opt_out_keyword(body)
    if keyword is None:
        return False
    source = f"{channel}_optout:{sid}"[:200]
    try:
        _, new = suppressions.suppress(session, phone, "all", reason=f"keyword {keyword}", source=source)
    except ValidationFailed:
        log.info("opt-out keyword from %s, which is not a phone number: ignored", mask_phone(phone))
        return True
    customer = messaging.customer_by_phone(session, phone)
    if customer is not None:
        messaging.mark_opted_out(session, customer, channel)
        consent.withdraw_all(session, customer.id, source=source, actor="customer")
    log.info("opt_out %s by %s on %s (new: %s)", keyword, mask_phone(phone), channel, new)
    return True
