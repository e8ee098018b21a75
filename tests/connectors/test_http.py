"""http.request: results, error classes, and the SSRF guard (allow-list, private ranges, redirects)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

import connectors.http as http_module
import connectors.http_guard as http_guard
from connectors.base import ActionCall
from connectors.http import HttpConnector, HttpRequestParams, HttpSettings, retry_after
from errors import PermanentError, TransientError


class Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    seen: ClassVar[list[dict[str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        Handler.seen.append({"path": self.path, "method": self.command, "headers": dict(self.headers),
                             "body": body})
        if self.path == "/slow":
            threading.Event().wait(2)
        status, headers, payload = Handler.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.routes, Handler.seen = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(url: str, settings: HttpSettings | None = None, **params: Any) -> dict[str, Any]:
    connector = HttpConnector(settings or HttpSettings(allow_private=True))
    call = ActionCall("request", HttpRequestParams(url=url, **params), idempotency_key="rule:evt:do[0]")
    return connector.execute(call)


def test_a_json_answer_is_the_steps_output_and_the_idempotency_key_is_sent(server: str) -> None:
    Handler.routes["/hook"] = (201, {"content-type": "application/json"}, b'{"ok": true}')
    result = run(f"{server}/hook", json={"order": 1})
    assert result == {"status": 201, "body": {"ok": True}}
    assert Handler.seen[0]["headers"]["Idempotency-Key"] == "rule:evt:do[0]"
    assert json.loads(Handler.seen[0]["body"]) == {"order": 1}


def test_a_4xx_answer_is_permanent_with_the_status_in_the_code(server: str) -> None:
    Handler.routes["/bad"] = (422, {}, b"invalid")
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/bad")
    assert caught.value.code == "http_422"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_are_transient_with_retry_after(server: str, status: int) -> None:
    Handler.routes["/busy"] = (status, {"Retry-After": "30"}, b"later")
    with pytest.raises(TransientError) as caught:
        run(f"{server}/busy")
    assert caught.value.retry_after == 30.0


def test_a_timeout_is_transient(server: str) -> None:
    with pytest.raises(TransientError, match="timed out"):
        run(f"{server}/slow", timeout=0.2, method="GET")


def test_a_refused_connection_is_transient() -> None:
    with pytest.raises(TransientError):
        run("http://127.0.0.1:9/")


def test_loopback_and_private_addresses_are_refused_by_default(server: str) -> None:
    for url in (f"{server}/hook", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/", "http://localhost/"):
        with pytest.raises(PermanentError) as caught:
            run(url, HttpSettings())
        assert caught.value.code == "ssrf_blocked", url
    assert Handler.seen == []


def test_hosts_outside_the_allow_list_are_refused(server: str) -> None:
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/hook", HttpSettings(allow_private=True, allow_hosts=["api.example.com"]))
    assert caught.value.code == "host_not_allowed"


def test_allow_list_patterns_match_subdomains() -> None:
    assert http_module.host_allowed("hooks.example.com", ["*.example.com"])
    assert not http_module.host_allowed("example.com.evil.net", ["*.example.com"])


def test_a_redirect_to_a_host_outside_the_allow_list_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    Handler.routes["/go"] = (302, {"Location": f"http://localhost:{port}/hook"}, b"")
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/go", HttpSettings(allow_private=True, allow_hosts=["127.0.0.1"]), method="GET")
    assert caught.value.code == "host_not_allowed"


def test_a_redirect_to_a_private_address_is_refused(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # pretend 127.0.0.1 is a public server; it redirects to 127.0.0.2, which stays "private"
    monkeypatch.setattr(http_guard, "is_public", lambda address: address == "127.0.0.1")
    port = server.rsplit(":", 1)[1]
    Handler.routes["/go"] = (302, {"Location": f"http://127.0.0.2:{port}/hook"}, b"")
    Handler.routes["/hook"] = (200, {}, b"internal")
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/go", HttpSettings(), method="GET")
    assert caught.value.code == "ssrf_blocked"
    assert [s["path"] for s in Handler.seen] == ["/go"]


def test_only_http_urls_are_accepted() -> None:
    for url in ("file:///etc/passwd", "gopher://x/", "http:///nohost"):
        with pytest.raises(PermanentError) as caught:
            run(url)
        assert caught.value.code == "invalid_url"


def test_address_classification() -> None:
    assert http_guard.is_public("8.8.8.8")
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "::1",
                    "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"):
        assert not http_guard.is_public(address), address


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after("soon") is None
    assert retry_after(None) is None
