"""Plain HTTP requests to other systems, guarded against SSRF and oversized answers.

A rule's ``http.request`` may name any URL a template renders, so the
connector refuses what a caller inside our network could abuse: hosts
outside ``allow_hosts`` (when set), and private, loopback, link-local and
other non-public addresses (IPv4 embedded in IPv6 included, see
``http_addresses``) unless ``allow_private``. The address check runs at
connect time on the address actually dialled (``http_guard.GuardedBackend``),
so a DNS answer that changes between check and use is refused too; redirects
are followed here, hop by hop, each URL checked again. The environment's
proxies are ignored. Answers are streamed and cut at ``max_response_bytes``
(redirect bodies are never read), so a huge or endless answer cannot fill
the worker's memory.
"""

from __future__ import annotations

import email.utils
import fnmatch
import functools
import json
import ssl
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

from connectors import http_addresses
from connectors.base import ActionCall, ActionSpec, Connector, ConnectorSettings, Params
from errors import PermanentError, TransientError

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
MAX_BODY_CHARS = 65_536  # what later steps may read as steps.<id>.body
ERROR_EXCERPT = 1024  # bytes of a 4xx answer read for the error message


class HttpSettings(ConnectorSettings):
    transport: Literal["http", "file"] = "http"
    allow_hosts: list[str] = Field(default_factory=list,
                                   description="Hosts http.request may call; empty means any public host")
    allow_private: bool = Field(False, description="Allow private and loopback addresses")
    max_response_bytes: int = Field(1_048_576, ge=1024,
                                    description="Largest answer read (decoded bytes); a larger one "
                                                "fails with response_too_large")


class HttpRequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    json_: Any = Field(None, alias="json", description="JSON body")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0, le=120)


def host_allowed(host: str, allow_hosts: list[str]) -> bool:
    """Exact names, or ``*.example.com`` patterns; an empty list allows every host."""
    host = host.lower().rstrip(".")
    return not allow_hosts or any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allow_hosts)


class HttpConnector(Connector):
    name = "http"
    settings_model = HttpSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "request": ActionSpec("request", HttpRequestParams, "Make an HTTP request",
                              outputs=("status", "body"), url_params=("url",)),
    }
    settings: HttpSettings

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, HttpRequestParams)
        return {"method": params.method, "url": params.url, "json": params.json_}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        import httpx  # imported when a request is made: checking rules needs only the params model

        params = call.params
        assert isinstance(params, HttpRequestParams)
        if self.settings.transport != "http":
            return super().execute(call)
        check_url(params.url, self.settings)
        headers = {"Idempotency-Key": call.idempotency_key, **params.headers}
        try:
            with self._client(params.timeout) as client:
                request = client.build_request(params.method, params.url, headers=headers,
                                               json=params.json_ if params.json_ is not None else None)
                return self._follow(client, params, request)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{params.method} {params.url} timed out after {params.timeout} s") from exc
        except httpx.DecodingError as exc:  # a body its Content-Encoding does not describe
            raise PermanentError(f"{params.method} {params.url}: undecodable answer: {exc}",
                                 code="invalid_response") from exc
        except httpx.TransportError as exc:
            # BlockedAddress is no httpx error: it leaves client.send as it is (permanent)
            raise TransientError(f"{params.method} {params.url}: {exc.__class__.__name__}: {exc}") from exc

    def _follow(self, client: httpx.Client, params: HttpRequestParams, request: httpx.Request
                ) -> dict[str, Any]:
        # redirects by hand: httpx would read each redirect's whole body before moving on
        for _ in range(MAX_REDIRECTS + 1):
            check_url(str(request.url), self.settings)
            response = client.send(request, stream=True)
            try:
                if response.next_request is None:
                    return self._result(params, response)
                request = response.next_request
            finally:
                response.close()  # unread bytes are dropped with the connection
        raise PermanentError(f"{params.url}: more than {MAX_REDIRECTS} redirects", code="too_many_redirects")

    def _read(self, params: HttpRequestParams, response: httpx.Response) -> bytes:
        """The decoded body, refused as soon as it passes ``max_response_bytes``."""
        cap = self.settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(params, cap)
        body = _read_up_to(response, cap + 1)
        if len(body) > cap:
            raise _too_large(params, cap)
        return body

    def _client(self, timeout: float) -> httpx.Client:
        import httpcore
        import httpx

        from connectors.http_guard import GuardedBackend

        transport = httpx.HTTPTransport(retries=0, verify=_ssl_context())  # no context of its own
        # httpx has no public hook for the network backend; the pool is rebuilt with the guarded one
        transport._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=GuardedBackend(self.settings.allow_private))
        return httpx.Client(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False,
                            trust_env=False)

    def _result(self, params: HttpRequestParams, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 429 or status >= 500:  # the body is not read: a retry does not need it
            raise TransientError(f"{params.method} {params.url} answered {status}",
                                 retry_after=retry_after(response.headers.get("retry-after")))
        if status >= 400:  # the start of the body says why; the rest is not read
            reason = _text(response, _read_up_to(response, ERROR_EXCERPT))
            raise PermanentError(f"{params.method} {params.url} answered {status}: {reason[:200]}",
                                 code=f"http_{status}")
        return {"status": status, "body": _body(response, _text(response, self._read(params, response)))}


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every request: building it loads the CA bundle, ~20 ms of CPU,
    which made it the largest cost of a call (the load suite measured it; an SSLContext is safe to
    share between threads)."""
    import httpx

    return httpx.create_ssl_context()


def check_url(url: str, settings: HttpSettings) -> None:
    """Refuse a URL whose scheme, host or literal address the settings do not allow.

    Used on every hop at run time and by ``despacho validate`` on static URLs; a
    host name is checked again on the addresses it resolves to, when dialled.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # a bad port or an unclosed [ in the host
        raise PermanentError(f"'{url}' is not a valid URL: {exc}", code="invalid_url") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise PermanentError(f"'{url}' is not an http(s) URL with a host", code="invalid_url")
    if not host_allowed(host, settings.allow_hosts):
        raise PermanentError(f"host '{host}' is not in connectors.http.allow_hosts", code="host_not_allowed")
    if settings.allow_private:
        return
    address = http_addresses.literal_address(host)
    private = address is not None and not http_addresses.is_public(address)
    if private or http_addresses.is_local_name(host):
        raise PermanentError(f"host '{host}' is a private, loopback or reserved address; "
                             "set connectors.http.allow_private to allow it", code="ssrf_blocked")


def _text(response: httpx.Response, content: bytes) -> str:
    return content.decode(response.encoding or "utf-8", errors="replace")


def _read_up_to(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` decoded bytes; the rest stays unread (closing the response drops it)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _too_large(params: HttpRequestParams, cap: int) -> PermanentError:
    return PermanentError(f"{params.method} {params.url}: the answer is larger than "
                          f"connectors.http.max_response_bytes ({cap} bytes)", code="response_too_large")


def _body(response: httpx.Response, text: str) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except ValueError:
            return text[:MAX_BODY_CHARS]
    return text[:MAX_BODY_CHARS]


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))
