"""One call to Conta Azul's API v2: limit, bearer token, one refresh on 401, audit, classify.

The adapter says what to call; this module makes the call the same way every time. The bearer
token never appears in an audited exchange (only the method, path, query and body do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import Audit, Exchange
from connectors.accounting.conta_azul_errors import classify, message_of
from errors import PermanentError, TransientError

if TYPE_CHECKING:
    import httpx

    from connectors.accounting.conta_azul_auth import AccessTokens
    from connectors.accounting.conta_azul_limits import CallLimiter

MAX_BODY = 5_000_000  # a page of 100 receivables is ~100 kB


class ContaAzulClient:
    def __init__(self, base_url: str, http: httpx.Client, tokens: AccessTokens, limiter: CallLimiter,
                 audit: Audit) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.tokens = tokens
        self.limiter = limiter
        self.audit = audit

    def call(self, operation: str, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        """The decoded JSON answer (None for an empty one, or a 404 when ``missing_ok``)."""
        request = {"method": method, "path": path, "params": params, "body": body}
        version, token = self.tokens.current()
        try:
            response = self._send(method, path, params, body, token)
            if response.status_code == 401:  # expired or revoked early: refresh once, then retry once
                version, token = self.tokens.refreshed(version)
                response = self._send(method, path, params, body, token)
        except TransientError as exc:  # no answer: the trail still shows what was attempted
            self.audit(Exchange(operation, request, None, None, "failed", str(exc)))
            raise
        decoded = _decoded(response)
        if response.status_code == 404 and missing_ok:
            self.audit(Exchange(operation, request, 404, _shown(decoded), "skipped", message_of(decoded)))
            return None
        if response.status_code >= 400:
            error = classify(response.status_code, decoded, response.headers.get("Retry-After"), operation)
            self.audit(Exchange(operation, request, response.status_code, _shown(decoded), "failed",
                                str(error)))
            raise error
        self.audit(Exchange(operation, request, response.status_code, _shown(decoded)))
        return decoded

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: dict[str, Any] | None,
              token: str) -> httpx.Response:
        import httpx

        self.limiter.acquire()
        try:
            return self.http.request(method, self.base_url + path, params=params, json=body,
                                     headers={"Authorization": f"Bearer {token}"})
        except httpx.TimeoutException as exc:
            raise TransientError(f"Conta Azul {method} {path} timed out") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"Conta Azul {method} {path} failed: {type(exc).__name__}") from exc


def _decoded(response: httpx.Response) -> Any:
    if len(response.content) > MAX_BODY:
        raise PermanentError(f"Conta Azul answered {len(response.content)} bytes (more than {MAX_BODY})",
                             code="oversized_response")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        if response.status_code >= 400:
            return {"message": response.text[:200]}
        raise PermanentError(f"Conta Azul answered {response.status_code} with a body that is not JSON",
                             code="bad_response") from exc


def _shown(decoded: Any) -> dict[str, Any] | None:
    """What the audit keeps of an answer: the object, or a list's size (pages are long)."""
    if isinstance(decoded, dict):
        items = decoded.get("itens", decoded.get("items"))
        if isinstance(items, list):
            return {**{k: v for k, v in decoded.items() if k not in ("itens", "items")}, "count": len(items)}
        return decoded
    return None if decoded is None else {"value": str(decoded)[:200]}
