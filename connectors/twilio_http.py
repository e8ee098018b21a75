"""The Twilio client's HTTP layer, keeping each thread's last response (``Retry-After`` is in it).

A module of its own so that importing the Twilio connector (its settings, its actions) does not
import the ``twilio`` package and ``requests``: only sending or checking does.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

# The client logs every request and its headers at INFO; each message already
# has its notification row, so only its warnings are worth the log.
_HTTP_LOG = logging.getLogger("despacho.connectors.twilio.http")
_HTTP_LOG.setLevel(logging.WARNING)


class Responses(TwilioHttpClient):
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
