"""How Twilio's failures are classified, whatever the client raised."""

from __future__ import annotations

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.response import Response

from connectors.messaging.twilio import TwilioSettings
from connectors.messaging.twilio_client import classify, retry_after
from errors import PermanentError, TransientError

WHERE = "https://api.twilio.com"


def rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, "/Messages.json", msg="scripted", code=code, method="POST")


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (429, None), (400, 20429), (500, None),
                                              (503, 20500)])
def test_rate_limits_and_server_errors_are_transient(status: int, code: int | None) -> None:
    assert isinstance(classify(rest(status, code), "+5511987654321", None, WHERE), TransientError)


@pytest.mark.parametrize("code", [21211, 21610, 63016, 20003, 21408])
def test_other_twilio_errors_are_permanent_with_their_code(code: int) -> None:
    error = classify(rest(400, code), "+5511987654321", None, WHERE)
    assert isinstance(error, PermanentError) and error.code == str(code)


def test_invalid_number_error_names_the_number_masked() -> None:
    message = str(classify(rest(400, 21211), "whatsapp:+5511900000000", None, WHERE))
    assert "+55 11 9****-0000 is not a valid phone number" in message
    assert "5511900000000" not in message


def test_a_bare_twilio_exception_is_caught_and_transient() -> None:
    assert isinstance(classify(TwilioException("Unable to fetch page"), None, None, WHERE), TransientError)


def test_network_failures_are_transient() -> None:
    assert isinstance(classify(requests.ConnectTimeout("slow"), None, None, WHERE), TransientError)
    assert isinstance(classify(requests.ConnectionError("refused"), None, None, WHERE), TransientError)


def test_retry_after_reads_the_header_or_defaults() -> None:
    assert retry_after(Response(429, "{}", {"Retry-After": "12"})) == 12
    assert retry_after(Response(429, "{}", {"Retry-After": "soon"})) == 30
    assert retry_after(Response(429, "{}", {})) == 30
    assert retry_after(None) == 30


def test_status_callback_url_follows_the_public_url() -> None:
    settings = TwilioSettings(public_url="https://despacho.example.com/")
    assert settings.status_callback_url() == "https://despacho.example.com/webhooks/twilio/status"
    assert TwilioSettings().status_callback_url() is None
    assert TwilioSettings(public_url="https://x", status_callbacks=False).status_callback_url() is None
