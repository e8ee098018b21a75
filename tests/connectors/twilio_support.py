"""Settings that point the real twilio client at the local fake."""

from __future__ import annotations

from typing import Any

from connectors.messaging.twilio import TwilioSettings
from tests.fakes.twilio import FakeTwilio


def settings_for(fake: FakeTwilio, **overrides: Any) -> TwilioSettings:
    values: dict[str, Any] = {"transport": "twilio", "account_sid": fake.account_sid,
                              "auth_token": fake.auth_token, "from": "+15005550006",
                              "api_base_url": fake.url, "timeout": 5}
    values.update(overrides)
    return TwilioSettings.model_validate(values)
