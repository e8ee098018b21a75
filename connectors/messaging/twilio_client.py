"""The ``twilio`` client library behind the Twilio transport, and how its failures are classified.

The real client is used; ``api_base_url`` replaces the domain it calls, so
staging and tests point it at a local server speaking the same API. This
module is imported only when a connector sends or checks over Twilio: the
client and ``requests`` are slow to import, and validating rules needs neither.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.messaging.phones import mask, mask_numbers_in
from connectors.messaging.twilio import (
    DEFAULT_RETRY_AFTER,
    INVALID_NUMBER,
    OPTED_OUT,
    OUTSIDE_WINDOW,
    TOO_MANY_REQUESTS,
    TwilioSettings,
)
from errors import ConnectorError, PermanentError, TransientError

# The client logs every request and its headers at INFO; each message already
# has its notification row, so only its warnings are worth the log.
_HTTP_LOG = logging.getLogger("despacho.connectors.twilio.http")
_HTTP_LOG.setLevel(logging.WARNING)


@dataclass(frozen=True)
class TwilioMessage:
    sid: str
    status: str
    segments: int | None
    raw: dict[str, Any]


class _Responses(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """Keeps each thread's last response: its headers carry ``Retry-After``, which the
    client's exceptions drop."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_HTTP_LOG)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.last = None
        response = super().request(*args, **kwargs)
        self._local.last = response
        return response

    @property
    def last(self) -> Response | None:
        return getattr(self._local, "last", None)


class TwilioMessages:
    """Send messages and fetch the account, raising despacho's error kinds."""

    def __init__(self, settings: TwilioSettings) -> None:
        if not settings.account_sid or not settings.auth_token:
            raise PermanentError("account_sid and auth_token are required for transport: twilio "
                                 "(set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)", code="not_configured")
        self.settings = settings
        self.http = _Responses(settings.timeout)
        # environment={}: TWILIO_REGION / TWILIO_EDGE would rewrite the configured host
        self.client = Client(settings.account_sid, settings.auth_token.get_secret_value(),
                             http_client=self.http, environment={})
        self.client.api.base_url = settings.api_base_url.rstrip("/")

    @property
    def account(self) -> Any:
        return self.client.api.v2010.accounts(self.settings.account_sid)

    def send(self, *, to: str, from_: str, body: str | None = None, content_sid: str | None = None,
             variables: dict[str, str] | None = None) -> TwilioMessage:
        fields: dict[str, Any] = {"to": to, "from_": from_}
        if content_sid:
            fields.update(content_sid=content_sid, content_variables=json.dumps(variables or {}))
        else:
            fields["body"] = body
        callback = self.settings.status_callback_url()
        if callback:
            fields["status_callback"] = callback
        try:
            created = self.account.messages.create(**fields)
        except (TwilioException, requests.RequestException, ValueError) as exc:
            raise self.classify(exc, to) from exc
        segments = int(created.num_segments) if created.num_segments not in (None, "") else None
        return TwilioMessage(created.sid, created.status or "queued", segments, {"price": created.price})

    def fetch_account(self) -> dict[str, Any]:
        try:
            found = self.account.fetch()
        except (TwilioException, requests.RequestException, ValueError) as exc:
            raise self.classify(exc, None) from exc
        return {"sid": found.sid, "status": found.status, "friendly_name": found.friendly_name}

    def classify(self, exc: BaseException, to: str | None) -> ConnectorError:
        return classify(exc, to, self.http.last, self.settings.api_base_url)


def classify(exc: BaseException, to: str | None, response: Response | None, where: str) -> ConnectorError:
    """429 / 20429 / 5xx / network trouble are transient; Twilio's other refusals are permanent."""
    if isinstance(exc, requests.Timeout):
        return TransientError(f"Twilio ({where}) did not answer in time: {exc}")
    if isinstance(exc, requests.RequestException):
        return TransientError(f"cannot reach Twilio at {where}: {exc}")
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    # Twilio's text echoes the number; these messages end up in logs and dead letters
    text = mask_numbers_in(str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or exc))
    to = mask(to) if to else None
    if status is None:
        # a TwilioException without an HTTP answer, or a body that is not JSON (a proxy's page)
        return TransientError(f"Twilio ({where}) failed: {text}")
    label = f"Twilio error {code}" if code else f"Twilio HTTP {status}"
    if status == 429 or code == TOO_MANY_REQUESTS or status >= 500:
        return TransientError(f"{label}: {text}", retry_after=retry_after(response))
    if code == INVALID_NUMBER:
        return PermanentError(f"{label}: {to} is not a valid phone number ({text})", code=str(code))
    if code == OPTED_OUT:
        return PermanentError(f"{label}: {to} unsubscribed (replied STOP); not sent", code=str(code))
    if code == OUTSIDE_WINDOW:
        return PermanentError(f"{label}: {to} is outside the WhatsApp 24 h window; "
                              f"only an approved template (content_sid) can be sent", code=str(code))
    return PermanentError(f"{label} (HTTP {status}){f' for {to}' if to else ''}: {text}",
                          code=str(code or f"http_{status}"))


def retry_after(response: Response | None) -> float:
    """Seconds from ``Retry-After`` (Twilio sends seconds), else a default back-off."""
    headers = response.headers if response is not None else None
    value = headers.get("Retry-After") if headers else None
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
