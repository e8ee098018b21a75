"""The purpose of a message: transactional by default, marketing on request, nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.email import SendEmailParams
from connectors.messaging.purpose import purpose_of
from connectors.sms import SendSmsParams
from connectors.whatsapp import SendWhatsAppParams


def test_a_message_is_transactional_unless_it_says_marketing() -> None:
    assert purpose_of(SendSmsParams(to="+5511987654321", body="oi")) == "transactional"
    assert purpose_of(SendWhatsAppParams(to="+5511987654321", body="oi", purpose="marketing")) == "marketing"


def test_an_unknown_purpose_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        SendEmailParams(to="a@example.com", subject="s", body="b", purpose="promo")
    assert raised.value.errors()[0]["loc"] == ("purpose",)
