"""Omie's wire: ``POST <api_url><module>/`` with ``{call, app_key, app_secret, param: [{...}]}``.

One method, ``call``, used by the adapter for every operation: it takes the rate-limit slots,
sends, reads a bounded answer, classifies a fault and audits the exchange (with the app key and
secret removed: they travel in the body, so they are scrubbed from whatever Omie echoes back).
A rate-limit fault whose wait is short is waited out here (backoff) and the call sent again;
a longer one becomes ``TransientError(retry_after=...)`` for the runner's retry queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import AdapterRuntime, Exchange
from connectors.accounting.omie_faults import Fault, classify, clean
from connectors.accounting.omie_limits import LEASE_MARGIN, OmieLimiter
from errors import PermanentError, TransientError

if TYPE_CHECKING:

    from connectors.accounting.settings import OmieSettings

MAX_BODY = 4 * 1024 * 1024  # bytes of an answer read before giving up on it
MAX_AUDITED = 16 * 1024  # characters of an answer kept whole in the audit; past it, its scalars only
BACKOFF_ATTEMPTS = 2  # rate-limit faults waited out in place before the runner takes over
REDACTED = "***"


class Duplicate(PermanentError):
    """Omie already holds a record with this integration code: the caller looks it up."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="duplicate")


class RateLimited(TransientError):
    """Omie refused the call for its rate (429, consumo redundante): waited out here when short."""


class OmieClient:
    def __init__(self, settings: OmieSettings, runtime: AdapterRuntime, *, limiter: OmieLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import httpx

        if settings.app_key is None or settings.app_secret is None:
            raise PermanentError("connectors.accounting.omie needs app_key and app_secret "
                                 "(Omie: Configurações > Aplicativos > API)", code="not_configured")
        self._key = settings.app_key.get_secret_value()
        self._secret = settings.app_secret.get_secret_value()
        self._url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
        self._audit = runtime.audit
        self._http = httpx.Client(timeout=settings.timeout, headers={"Content-Type": "application/json"})
        self._sleep = sleep
        self.limiter = limiter or OmieLimiter(
            redis_url=runtime.redis_url, app_key=self._key, per_minute=settings.calls_per_minute,
            per_method_minute=settings.calls_per_method_minute, concurrent=settings.concurrent_per_method,
            lease=settings.timeout + LEASE_MARGIN, prefix=f"{runtime.namespace}:omie", sleep=sleep)

    def close(self) -> None:
        self._http.close()

    def call(self, module: str, method: str, param: dict[str, Any], operation: str) -> dict[str, Any]:
        """Omie's answer to ``method``; a fault raised as ``Duplicate``, ``PermanentError`` or
        ``TransientError``."""
        for attempt in range(BACKOFF_ATTEMPTS + 1):
            try:
                return self._once(module, method, param, operation)
            except RateLimited as exc:
                wait = exc.retry_after
                if attempt == BACKOFF_ATTEMPTS or wait is None or wait > self.limiter.max_wait:
                    raise
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _once(self, module: str, method: str, param: dict[str, Any], operation: str) -> dict[str, Any]:
        import httpx

        request = {"url": module, "call": method, "param": [param]}
        body = {"call": method, "app_key": self._key, "app_secret": self._secret, "param": [param]}
        with self.limiter.slot(method):
            try:
                status, answer, retry_after = self._post(self._url + module, body)
            except httpx.TimeoutException as exc:
                self._record(operation, request, None, None, "failed", "timed out")
                raise TransientError(f"Omie {operation}: no answer within the timeout") from exc
            except httpx.HTTPError as exc:
                self._record(operation, request, None, None, "failed", clean(self._scrub(str(exc))))
                raise TransientError(f"Omie {operation}: {clean(self._scrub(str(exc)))}") from exc
        if status == 200 and isinstance(answer, dict) and not answer.get("faultstring") \
                and str(answer.get("codigo_status", "0")) == "0":
            self._record(operation, request, status, answer, "ok", None)
            return answer
        raise self._failure(operation, request, status, answer, retry_after)

    def _post(self, url: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        with self._http.stream("POST", url, content=json.dumps(body).encode()) as response:
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_BODY:
                    raise PermanentError(f"Omie answered more than {MAX_BODY // 1024 // 1024} MB; refused",
                                         code="bad_response")
            try:
                answer = json.loads(self._scrub(raw.decode("utf-8", errors="replace")))
            except ValueError:
                answer = None
            return response.status_code, answer, response.headers.get("Retry-After")

    def _failure(self, operation: str, request: dict[str, Any], status: int, answer: Any,
                 retry_after: str | None) -> Exception:
        if status == 200 and isinstance(answer, dict) and not answer.get("faultstring"):
            # Omie's "codigo_status" / "descricao_status" pair: a refusal told in a 200
            answer = {"faultstring": answer.get("descricao_status", ""),
                      "faultcode": answer.get("codigo_status")}
        elif status == 200:
            self._record(operation, request, status, None, "failed", "not a JSON object")
            return TransientError(f"Omie {operation}: the answer was not a JSON object")
        fault = classify(status, answer if isinstance(answer, dict) else None, retry_after)
        # an empty list page is Omie's way of answering "none": not a failure in the audit
        outcome = {"duplicate": "duplicate", "no_records": "ok"}.get(fault.kind, "failed")
        self._record(operation, request, status, answer if isinstance(answer, dict) else None,
                     outcome, fault.message or f"HTTP {status}")
        return _error(fault, operation)

    def _record(self, operation: str, request: dict[str, Any], status: int | None,
                answer: dict[str, Any] | None, outcome: Any, error: str | None) -> None:
        self._audit(Exchange(operation=operation, request=request, status_code=status,
                             response=_bounded(answer), outcome=outcome, error=error))

    def _scrub(self, text: str) -> str:
        for secret in (self._secret, self._key):
            if secret:
                text = text.replace(secret, REDACTED)
        return text


def _error(fault: Fault, operation: str) -> Exception:
    if fault.kind == "duplicate":
        return Duplicate(f"Omie {operation}: {fault.message}")
    if fault.kind in ("rate_limited", "redundant"):
        return RateLimited(f"Omie {operation}: {fault.message or 'too many requests'}",
                           retry_after=fault.retry_after)
    return fault.error(operation)


def _bounded(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    if answer is None or len(json.dumps(answer, default=str)) <= MAX_AUDITED:
        return answer
    kept = {key: value for key, value in answer.items() if isinstance(value, (str, int, float, bool))}
    return {**kept, "_truncated": True}
