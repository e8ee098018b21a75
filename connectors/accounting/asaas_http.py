"""One request to Asaas API v3: the key in its header, errors classified, every exchange audited.

Asaas answers errors as ``{"errors": [{"code", "description"}]}``: 400 is a validation
failure (permanent, with Asaas's description), 401 a bad or missing API key, 404 an
unknown resource; 429 and 5xx are worth retrying (``Retry-After`` honoured), and so is
a timeout — a create whose answer was lost is found again by its ``externalReference``.
The API key travels only in the ``access_token`` header and is never written to the audit.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from connectors.accounting.adapter import Audit, Exchange
from connectors.accounting.settings import AsaasSettings
from errors import PermanentError, TransientError

MAX_RESPONSE_BYTES = 2_000_000  # a real answer is a few kB; a list page of 100 charges ~150 kB
MAX_AUDITED_TEXT = 300  # a PIX QR image is ~5 kB of base64: the audit keeps its length only
MAX_RETRY_AFTER = 3600.0
REDACTED = "***"
Outcome = Literal["ok", "duplicate", "failed", "conflict", "skipped"]


class AsaasHttp:
    """A ``httpx.Client`` bound to one Asaas account; ``trail`` collects what each call exchanged."""

    def __init__(self, settings: AsaasSettings, audit: Audit, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        if not key:
            raise PermanentError("Asaas has no API key: set connectors.accounting.asaas.api_key",
                                 code="asaas_not_configured")
        self._key = key
        self._audit = audit
        self._timeout = settings.timeout
        self._client = httpx.Client(
            base_url=settings.api_url.rstrip("/") + "/", timeout=settings.timeout, transport=transport,
            headers={"access_token": key, "User-Agent": "despacho", "Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    def call(self, operation: str, method: str, path: str, trail: list[Exchange], *,
             body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
             outcome: Outcome | Callable[[dict[str, Any]], Outcome] = "ok") -> dict[str, Any]:
        """The JSON answer of a 2xx; otherwise the classified error (after auditing the exchange).

        ``outcome`` may look at the answer (a search that found what a lost create made is a
        ``duplicate``), so the audit gets the outcome with the exchange, as it happens.
        """
        request = {"method": method, "path": path, "params": params, "body": body}
        try:
            answer = self._client.request(method, path.lstrip("/"), json=body, params=params)
        except httpx.TimeoutException as exc:
            self._record(trail, Exchange(operation, self._clean(request), None, None, "failed",
                                         f"timeout after {self._timeout}s"))
            raise TransientError(f"Asaas did not answer {method} {path} within {self._timeout}s") from exc
        except httpx.TransportError as exc:
            self._record(trail, Exchange(operation, self._clean(request), None, None, "failed",
                                         type(exc).__name__))
            raise TransientError(f"Asaas could not be reached ({type(exc).__name__})") from exc
        data = self._json(answer)
        audited = self._clean(data)  # an error that echoes the key must not carry it into a dead letter
        error = None if answer.is_success else \
            classify(answer.status_code, audited, answer.headers, method, path)
        decided = outcome(data) if callable(outcome) else outcome
        self._record(trail, Exchange(operation, self._clean(request), answer.status_code, audited,
                                     "failed" if error else decided, str(error) if error else None))
        if error is not None:
            raise error
        return data

    def _json(self, answer: httpx.Response) -> dict[str, Any]:
        if len(answer.content) > MAX_RESPONSE_BYTES:
            raise TransientError(
                f"Asaas answered {len(answer.content)} bytes (more than {MAX_RESPONSE_BYTES})")
        try:
            data = answer.json() if answer.content else {}
        except ValueError:
            data = {"text": answer.text[:MAX_AUDITED_TEXT]}
        return data if isinstance(data, dict) else {"value": data}

    def _record(self, trail: list[Exchange], exchange: Exchange) -> None:
        trail.append(exchange)
        self._audit(exchange)

    def _clean(self, value: Any) -> Any:
        """The key removed wherever it appears; long texts (QR images) kept as their length."""
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        if isinstance(value, str):
            value = value.replace(self._key, REDACTED)
            return value if len(value) <= MAX_AUDITED_TEXT else f"<{len(value)} characters>"
        return value


def classify(status: int, data: dict[str, Any], headers: httpx.Headers, method: str,
             path: str) -> PermanentError | TransientError:
    """Asaas's answer as one of our two error kinds."""
    described = describe(data) or f"HTTP {status}"
    where = f"Asaas {method} {path}"
    if status == 429 or status >= 500:
        return TransientError(f"{where}: {described}", retry_after=retry_after(headers.get("Retry-After")))
    if status == 401:
        return PermanentError(f"{where}: the API key was refused ({described}); check "
                              "connectors.accounting.asaas.api_key and api_url (sandbox or production)",
                              code="asaas_auth")
    if status == 404:
        return PermanentError(f"{where}: not found ({described})", code="not_found")
    if status == 403:
        return PermanentError(f"{where}: not allowed for this account ({described})", code="asaas_forbidden")
    code = "asaas_validation" if status == 400 else "asaas_error"
    return PermanentError(f"{where}: {described}", code=code)


def describe(data: dict[str, Any]) -> str:
    """``invalid_dueDate: Não é permitido ...`` for each entry of Asaas's ``errors`` list."""
    errors = data.get("errors")
    if not isinstance(errors, list):
        return ""
    parts = [f"{e.get('code')}: {e.get('description')}" for e in errors[:5] if isinstance(e, dict)]
    return "; ".join(parts)[:1000]


def retry_after(value: str | None) -> float | None:
    """Seconds from ``Retry-After`` (a number or an HTTP date), bounded to an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from datetime import UTC

        from store.types import utcnow

        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        seconds = (moment - utcnow()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
