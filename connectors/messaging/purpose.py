"""The legal basis of a message: why the company may send it at all (LGPD art. 7).

``transactional`` (the default) is a message the service itself needs — a
visit confirmed, a technician on the way, an invoice due: its basis is the
contract, and only an opt-out or the suppression list stops it.
``marketing`` (offers, campaigns, satisfaction surveys that sell) rests on
the customer's consent for that channel: without a current consent record it
is refused before sending (``errors.SendRefused``), and the step ends skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.base import Params

Purpose = Literal["transactional", "marketing"]


class MessageParams(Params):
    """Params of every messaging action: the message's purpose, which decides its legal basis."""

    purpose: Purpose = Field("transactional", description=(
        "transactional (default: the service needs it; contract execution) or marketing (needs the "
        "customer's consent for this channel; refused without it)"))


def purpose_of(params: Params) -> Purpose:
    return params.purpose if isinstance(params, MessageParams) else "transactional"
