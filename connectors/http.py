"""Plain HTTP requests to other systems, guarded against SSRF.

A rule's ``http.request`` may name any URL a template renders, so the
connector refuses what a caller inside our network could abuse: hosts
outside ``allow_hosts`` (when set), and private, loopback, link-local and
other non-public addresses unless ``allow_private``. The address check runs
at connect time on the address actually dialled (``http_guard.GuardedBackend``), so a
DNS answer that changes between check and use, or a redirect towards an
internal host, is refused too. The environment's proxies are ignored.
"""

from __future__ import annotations

import email.utils
import fnmatch
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

from connectors.base import ActionCall, ActionSpec, Connector, ConnectorSettings, Params
from errors import PermanentError, TransientError

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
MAX_BODY_CHARS = 65_536  # what later steps may read as steps.<id>.body


class HttpSettings(ConnectorSettings):
    transport: Literal["http", "file"] = "http"
    allow_hosts: list[str] = Field(default_factory=list,
                                   description="Hosts http.request may call; empty means any public host")
    allow_private: bool = Field(False, description="Allow private and loopback addresses")


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
                              outputs=("status", "body")),
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
        self._check_url(params.url)
        headers = {"Idempotency-Key": call.idempotency_key, **params.headers}
        try:
            with self._client(params.timeout) as client:
                response = client.request(params.method, params.url, headers=headers,
                                          json=params.json_ if params.json_ is not None else None)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{params.method} {params.url} timed out after {params.timeout} s") from exc
        except httpx.TooManyRedirects as exc:
            raise PermanentError(f"{params.url}: more than {MAX_REDIRECTS} redirects",
                                 code="too_many_redirects") from exc
        except httpx.TransportError as exc:
            # BlockedAddress is no httpx error: it leaves client.request as it is (permanent)
            raise TransientError(f"{params.method} {params.url}: {exc.__class__.__name__}: {exc}") from exc
        return self._result(params, response)

    def _client(self, timeout: float) -> httpx.Client:
        import httpcore
        import httpx

        from connectors.http_guard import GuardedBackend

        transport = httpx.HTTPTransport(retries=0)
        # httpx has no public hook for the network backend; the pool is rebuilt with the guarded one
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=GuardedBackend(self.settings.allow_private))
        return httpx.Client(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=True,
                            max_redirects=MAX_REDIRECTS, trust_env=False,
                            event_hooks={"request": [self._check_request]})

    def _check_request(self, request: httpx.Request) -> None:
        # runs for the first request and for every redirect hop
        self._check_url(str(request.url))

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError(f"'{url}' is not an http(s) URL with a host", code="invalid_url")
        if not host_allowed(parts.hostname, self.settings.allow_hosts):
            raise PermanentError(f"host '{parts.hostname}' is not in connectors.http.allow_hosts",
                                 code="host_not_allowed")

    def _result(self, params: HttpRequestParams, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(f"{params.method} {params.url} answered {status}",
                                 retry_after=retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise PermanentError(f"{params.method} {params.url} answered {status}: {response.text[:200]}",
                                 code=f"http_{status}")
        return {"status": status, "body": _body(response)}


def _body(response: httpx.Response) -> Any:
    text = response.text[:MAX_BODY_CHARS]
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(response.text)
        except ValueError:
            return text
    return text


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
