"""The Twilio transport, shared by SMS and WhatsApp: its settings, error codes and text messages.

The ``twilio`` client library is loaded (``twilio_client``) when the
transport is first used, not when the SMS or WhatsApp connector is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, field_validator

from connectors.base import ConnectorSettings, Runtime
from connectors.messaging.outgoing import Sent
from connectors.messaging.phones import Destinations
from errors import PermanentError

if TYPE_CHECKING:
    from connectors.messaging.twilio_client import TwilioMessages

# Twilio error codes with their own meaning here (https://www.twilio.com/docs/api/errors)
INVALID_NUMBER = 21211
OPTED_OUT = 21610
OUTSIDE_WINDOW = 63016
TOO_MANY_REQUESTS = 20429
AUTHENTICATION = 20003
DEFAULT_RETRY_AFTER = 30.0


class TwilioSettings(ConnectorSettings):
    transport: Literal["twilio", "file"] = "file"
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_: str = Field("", alias="from")
    api_base_url: str = "https://api.twilio.com"
    public_url: str | None = Field(None, description="The address Twilio calls back, for signatures")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for Twilio's answer")
    default_region: str = Field("BR", min_length=2, max_length=2,
                                description="Country of phone numbers written without +country code")
    allowed_countries: list[str] = Field(
        default_factory=lambda: ["BR"], min_length=1,
        description="ISO codes of the countries messages may be sent to; others are refused")
    allow_premium_numbers: bool = Field(False, description="Send to premium-rate and shared-cost numbers")
    allow_short_codes: bool = Field(False, description="Send to short codes (e.g. 40404)")
    status_callbacks: bool = Field(True, description="Ask Twilio to report delivery to public_url")
    segment_price: Decimal = Field(Decimal("0"), ge=0, decimal_places=4,
                                   description="Price of one SMS segment, for the console's SMS cost")
    webhook_key: SecretStr | None = Field(
        None, description="Secret of the webhook SharedKey, for requests signed with HMAC-SHA256 "
                          "(X-Twilio-Webhooks-Signature-Settings); others are signed with auth_token")

    @field_validator("allowed_countries")
    @classmethod
    def _known_countries(cls, value: list[str]) -> list[str]:
        import phonenumbers

        codes = [code.strip().upper() for code in value]
        unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown country code {unknown[0]!r} (ISO 3166 two letters, e.g. BR, PT, US)")
        return codes

    def destinations(self) -> Destinations:
        return Destinations(tuple(self.allowed_countries), self.allow_premium_numbers, self.allow_short_codes)

    def status_callback_url(self) -> str | None:
        if not (self.status_callbacks and self.public_url):
            return None
        return self.public_url.rstrip("/") + "/webhooks/twilio/status"


@dataclass(frozen=True)
class TextMessage:
    """An SMS or WhatsApp message: free text, or an approved Content template with its variables."""

    to: str
    from_: str
    body: str | None
    content_sid: str | None = None
    variables: dict[str, str] | None = None
    preview: dict[str, Any] = field(default_factory=dict)  # what the file transport writes besides to/from
    message_id: None = None  # Twilio names the message (its SID) when it accepts it

    def file_entry(self) -> dict[str, Any]:
        return {"to": self.to, "from": self.from_, **self.preview}


class TwilioTransport:
    name = "twilio"
    opted_out_codes = frozenset({str(OPTED_OUT)})

    def __init__(self, settings: TwilioSettings) -> None:
        from connectors.messaging.twilio_client import TwilioMessages  # the client library, when used

        self.settings = settings
        # one client per connector: its HTTP session keeps connections to Twilio open
        self.messages: TwilioMessages = TwilioMessages(settings)

    @classmethod
    def for_connector(cls, settings: ConnectorSettings, runtime: Runtime, channel: str) -> TwilioTransport:
        assert isinstance(settings, TwilioSettings)
        return cls(settings)

    def check(self) -> dict[str, Any]:
        """Fetch the Twilio account; no message is sent."""
        account = self.messages.fetch_account()
        if account["status"] != "active":
            raise PermanentError(f"Twilio account {account['sid']} is {account['status']}",
                                 code="account_inactive")
        return {"target": f"{self.settings.api_base_url} account {account['sid']}",
                "detail": f"account '{account['friendly_name']}' is {account['status']}"}

    def send(self, message: TextMessage, idempotency_key: str) -> Sent:
        sent = self.messages.send(to=message.to, from_=message.from_, body=message.body,
                                  content_sid=message.content_sid, variables=message.variables)
        return Sent(self.name, sent.sid, sent.status)

    def close(self) -> None:
        pass
