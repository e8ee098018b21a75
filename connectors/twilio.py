"""What SMS and WhatsApp share: Twilio settings (and, with the messaging issue, the client)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from connectors.base import ConnectorSettings


class TwilioSettings(ConnectorSettings):
    transport: Literal["twilio", "file"] = "file"
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_: str = Field("", alias="from")
    api_base_url: str = "https://api.twilio.com"
    public_url: str | None = Field(None, description="The address Twilio calls back, for signatures")
