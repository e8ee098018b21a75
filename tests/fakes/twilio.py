"""A local HTTP server that speaks Twilio's Messages API, for the real ``twilio`` client.

Form-encoded POSTs with Basic auth, JSON answers shaped like Twilio's, and
Twilio's error bodies (``{"code", "message", "more_info", "status"}``).
Failures are scripted: ``refuse(number, ...)`` for one recipient,
``fail_next(...)`` for the next request (429 with ``Retry-After``, 500...).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.serving import serving

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "test-auth-token"
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)(?P<rest>/Messages)?\.json$")
_E164 = re.compile(r"^(whatsapp:)?\+[1-9]\d{7,14}$")


@dataclass
class Failure:
    status: int
    code: int | None
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeTwilio:
    url: str = ""
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    account_status: str = "active"
    requests: list[dict[str, Any]] = field(default_factory=list)  # the form of each message POST
    refusals: dict[str, Failure] = field(default_factory=dict)
    scripted: deque[Failure] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, to: str, status: int, code: int, message: str) -> None:
        self.refusals[to] = Failure(status, code, message)

    def fail_next(self, status: int, code: int | None = None, message: str = "",
                  retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.scripted.append(Failure(status, code, message or f"scripted {status}", headers))

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [form for form in self.requests if form.get("_accepted")]


def _error_body(failure: Failure) -> bytes:
    body: dict[str, Any] = {"code": failure.code, "message": failure.message,
                            "more_info": f"https://www.twilio.com/docs/errors/{failure.code}",
                            "status": failure.status}
    return json.dumps(body).encode()


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _fail(self, failure: Failure) -> None:
            self._answer(failure.status, _error_body(failure), failure.headers)

        def _authorized(self, sid: str) -> bool:
            expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}" or sid != fake.account_sid:
                self._fail(Failure(401, 20003, "Authenticate"))
                return False
            return True

        def do_GET(self) -> None:
            match = _ACCOUNT.match(self.path)
            if not match or match["rest"]:
                self._fail(Failure(404, 20404, f"The requested resource {self.path} was not found"))
                return
            if not self._authorized(match["sid"]):
                return
            self._answer(200, json.dumps({
                "sid": fake.account_sid, "friendly_name": "Refrigeração Paulista",
                "status": fake.account_status, "type": "Full", "date_created": formatdate(usegmt=True),
            }).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            match = _ACCOUNT.match(self.path)
            if not match or not match["rest"]:
                self._fail(Failure(404, 20404, f"The requested resource {self.path} was not found"))
                return
            if not self._authorized(match["sid"]):
                return
            if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                self._fail(Failure(400, 20001, "Expected a form-encoded body"))
                return
            form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
            with fake._lock:
                fake.requests.append(form)
                failure = fake.scripted.popleft() if fake.scripted else fake.refusals.get(form.get("To", ""))
            if failure is not None:
                self._fail(failure)
                return
            problem = self._invalid(form)
            if problem is not None:
                self._fail(problem)
                return
            form["_accepted"] = True
            self._answer(201, json.dumps(self._message(form)).encode())

        def _invalid(self, form: dict[str, str]) -> Failure | None:
            for name in ("To", "From"):
                if not form.get(name):
                    code = 21604 if name == "To" else 21603
                    return Failure(400, code, f"A '{name}' phone number is required.")
            if not _E164.match(form["To"]):
                return Failure(400, 21211, f"Invalid 'To' Phone Number: {form['To']}")
            if not form.get("Body") and not form.get("ContentSid"):
                return Failure(400, 21602, "Message body is required.")
            return None

        def _message(self, form: dict[str, str]) -> dict[str, Any]:
            from connectors.messaging.segments import count_segments

            sid = "SM" + uuid.uuid4().hex
            body = form.get("Body", "")
            now = formatdate(usegmt=True)
            return {
                "sid": sid, "account_sid": fake.account_sid, "to": form["To"], "from": form["From"],
                "body": body, "status": "queued", "direction": "outbound-api",
                "num_segments": str(max(count_segments(body).segments, 1)), "num_media": "0",
                "api_version": "2010-04-01", "price": None, "price_unit": "USD",
                "error_code": None, "error_message": None, "messaging_service_sid": None,
                "date_created": now, "date_updated": now, "date_sent": None,
                "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}/Media"
                                              ".json"},
            }

    return Handler


@contextmanager
def twilio_server() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    with serving(_handler(fake)) as url:
        fake.url = url
        yield fake
