"""SSRF and oversized answers through ``http.request``, replayed: each is refused, nothing internal answers.

The reported addresses hide 127.0.0.1 inside IPv6; the reported answer was 50 MiB
and was read whole. Grows with every defence: one test per attack.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from cli import app
from connectors.base import ActionCall
from connectors.http import HttpConnector, HttpRequestParams, HttpSettings
from errors import PermanentError
from tests.conftest import write

FIFTY_MIB = 50 * 1024 * 1024
CHUNK = 64 * 1024


class Flood(BaseHTTPRequestHandler):
    """Answers 50 MiB, with or without Content-Length; counts what it managed to send."""

    protocol_version = "HTTP/1.1"
    sent: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        declared = self.path == "/declared"
        self.send_response(200)
        if declared:
            self.send_header("content-length", str(FIFTY_MIB))
        else:
            self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            while sent < FIFTY_MIB:
                block = b"x" * CHUNK
                self.wfile.write(block if declared else b"%x\r\n%s\r\n" % (CHUNK, block))
                sent += CHUNK
            if not declared:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the connector hung up
        Flood.sent.append(sent)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flood() -> Iterator[str]:
    Flood.sent = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def request(url: str, settings: HttpSettings) -> dict[str, Any]:
    call = ActionCall("request", HttpRequestParams(url=url, method="GET"), idempotency_key="r:e:do[0]")
    return HttpConnector(settings).execute(call)


@pytest.mark.parametrize("url", [
    "http://[64:ff9b::7f00:1]/",     # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/",       # 6to4 of 127.0.0.1
    "http://[::127.0.0.1]/",         # IPv4-compatible 127.0.0.1
    "http://[::ffff:169.254.169.254]/latest/meta-data",
    "http://2130706433/",            # 127.0.0.1 as one number
])
def test_loopback_hidden_in_another_spelling_is_refused(url: str) -> None:
    with pytest.raises(PermanentError) as caught:
        request(url, HttpSettings())
    assert caught.value.code == "ssrf_blocked"


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
def test_a_50_mib_answer_is_cut_at_the_cap_not_read_whole(flood: str, path: str) -> None:
    with pytest.raises(PermanentError) as caught:
        request(f"{flood}{path}", HttpSettings(allow_private=True))
    assert caught.value.code == "response_too_large"
    threading.Event().wait(0.5)  # let the server notice the hang-up
    assert Flood.sent and Flood.sent[0] < FIFTY_MIB


def test_validate_refuses_a_rule_that_calls_a_private_literal_address(project: Path) -> None:
    write(project / "rules/hook.yaml", """
rules:
  - id: leak-metadata
    on: order.done
    do:
      - http.request: {method: GET, url: "http://[::ffff:169.254.169.254]/latest/meta-data"}
""")
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "rules/hook.yaml:5:42: rules[0].do[0].http.request.url" in result.output
    assert "connectors.http.allow_private" in result.output
