"""http.request: results, error classes, and the SSRF guard (allow-list, private ranges, redirects)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

import connectors.http as http_module
import connectors.http_addresses as http_addresses
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
        if self.path == "/chunked":
            self._chunked(64 * 1024)
            return
        status, headers, payload = Handler.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _chunked(self, chunks: int) -> None:
        # no Content-Length: only counting what arrives can stop it
        self.send_response(200)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for _ in range(chunks):
                self.wfile.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up once it had enough

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
    monkeypatch.setattr(http_addresses, "is_public", lambda address: str(address) == "127.0.0.1")
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
    assert http_addresses.is_public("8.8.8.8")
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "::1",
                    "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"):
        assert not http_addresses.is_public(address), address


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


@pytest.mark.parametrize("address", [
    "::127.0.0.1",            # IPv4-compatible
    "::ffff:0:127.0.0.1",     # SIIT translated
    "64:ff9b::7f00:1",        # NAT64 well-known prefix
    "64:ff9b::a9fe:a9fe",     # NAT64 of the metadata service 169.254.169.254
    "64:ff9b:1::808:808",     # NAT64 local-use prefix: refused whatever it carries
    "2002:7f00:1::",          # 6to4
    "2002:a00:1::1",          # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    "ff02::1", "fe80::1", "::", "240.0.0.1", "224.0.0.1",
])
def test_ipv4_hidden_in_ipv6_and_other_non_public_forms_are_not_public(address: str) -> None:
    assert not http_addresses.is_public(address)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8",
                                     "2606:4700:4700::1111", "1.1.1.1"])
def test_public_ipv4_behind_a_translation_prefix_stays_public(address: str) -> None:
    assert http_addresses.is_public(address)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::127.0.0.1]",
                                  "[64:ff9b::7f00:1]", "localhost", "api.localhost."])
def test_literal_and_local_hosts_are_refused_before_any_connection(host: str) -> None:
    with pytest.raises(PermanentError) as caught:
        http_module.check_url(f"http://{host}/x", HttpSettings())
    assert caught.value.code == "ssrf_blocked"


def test_allow_private_lets_literal_private_hosts_through_the_url_check() -> None:
    http_module.check_url("http://10.0.0.5/x", HttpSettings(allow_private=True))


def test_a_name_resolving_to_a_private_address_is_refused(
        server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # no local DNS server to point at: the resolver is replaced by one answering 10.0.0.1
    monkeypatch.setattr(http_guard.socket, "getaddrinfo",
                        lambda host, port, *args, **kw: [(2, 1, 6, "", ("10.0.0.1", port))])
    with pytest.raises(PermanentError) as caught:
        run("http://hooks.example.com/x", HttpSettings())
    assert caught.value.code == "ssrf_blocked"


def test_the_connection_goes_to_the_address_that_was_checked(
        server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a rebinding resolver: a "public" answer first, an internal one afterwards
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    asked: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host: str, port: int, *args: Any, **kw: Any) -> list[Any]:
        if host[0].isdigit():  # the dial itself parses the address it was given
            return real_getaddrinfo(host, port, *args, **kw)
        asked.append(host)
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr(http_guard.socket, "getaddrinfo", resolver)
    monkeypatch.setattr(http_addresses, "is_public", lambda address: str(address) == "127.0.0.1")
    Handler.routes["/hook"] = (200, {}, b"ok")
    port = server.rsplit(":", 1)[1]
    assert run(f"http://hooks.example.com:{port}/hook", HttpSettings())["body"] == "ok"
    assert asked == ["hooks.example.com"]  # resolved once; the checked address was dialled


def test_an_answer_declaring_more_than_max_response_bytes_is_refused(server: str) -> None:
    Handler.routes["/big"] = (200, {}, b"x" * 4096)
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/big", HttpSettings(allow_private=True, max_response_bytes=1024), method="GET")
    assert caught.value.code == "response_too_large"


def test_a_chunked_answer_is_cut_at_max_response_bytes(server: str) -> None:
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/chunked", HttpSettings(allow_private=True, max_response_bytes=1024), method="GET")
    assert caught.value.code == "response_too_large"


def test_an_answer_within_max_response_bytes_is_read_whole(server: str) -> None:
    Handler.routes["/fits"] = (200, {}, b"x" * 1024)
    result = run(f"{server}/fits", HttpSettings(allow_private=True, max_response_bytes=1024), method="GET")
    assert result["body"] == "x" * 1024


def test_a_5xx_answer_is_transient_without_reading_its_body(server: str) -> None:
    Handler.routes["/down"] = (503, {}, b"x" * 4096)
    with pytest.raises(TransientError):
        run(f"{server}/down", HttpSettings(allow_private=True, max_response_bytes=1024), method="GET")


def test_more_than_five_redirects_is_permanent(server: str) -> None:
    Handler.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/loop", method="GET")
    assert caught.value.code == "too_many_redirects"
    assert len(Handler.seen) == http_module.MAX_REDIRECTS + 1


def test_a_redirect_is_followed_with_the_get_it_calls_for(server: str) -> None:
    Handler.routes["/moved"] = (303, {"Location": "/hook"}, b"")
    Handler.routes["/hook"] = (200, {"content-type": "application/json"}, b'{"ok": 1}')
    assert run(f"{server}/moved", json={"a": 1})["body"] == {"ok": 1}
    assert [(s["method"], s["path"]) for s in Handler.seen] == [("POST", "/moved"), ("GET", "/hook")]


def test_a_4xx_with_a_huge_body_stays_http_4xx_and_reads_only_its_start(server: str) -> None:
    Handler.routes["/gone"] = (410, {}, b"gone because " + b"x" * 8192)
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/gone", HttpSettings(allow_private=True, max_response_bytes=1024), method="GET")
    assert caught.value.code == "http_410"
    assert "gone because" in str(caught.value)


def test_a_body_its_content_encoding_does_not_describe_is_permanent(server: str) -> None:
    Handler.routes["/bad-gzip"] = (200, {"content-encoding": "gzip"}, b"not gzip at all")
    with pytest.raises(PermanentError) as caught:
        run(f"{server}/bad-gzip", method="GET")
    assert caught.value.code == "invalid_response"
