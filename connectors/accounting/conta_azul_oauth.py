"""Conta Azul's OAuth2 token endpoint: the code exchange and the (rotating) refresh, on the wire.

Form-encoded POSTs to ``token_uri`` with HTTP Basic ``client_id:client_secret`` (Conta Azul's
login is AWS Cognito underneath). Every refresh answers a new refresh token: what happens to it
is ``conta_azul_auth``'s business; this module only speaks the protocol and classifies failures.
Tokens never reach the audit: an exchange records the grant type, the status and the lifetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import Audit, Exchange
from connectors.accounting.settings import ContaAzulSettings
from errors import PermanentError, TransientError

if TYPE_CHECKING:
    import httpx

MAX_TOKEN_BODY = 64_000  # a token answer is ~4 kB; anything far bigger is not one
MAX_LIFETIME = 86_400  # an expires_in above a day is not believed


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime

    def as_secret(self) -> dict[str, str]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_secret(cls, data: dict[str, Any]) -> Tokens:
        return cls(str(data["access_token"]), str(data["refresh_token"]),
                   datetime.fromisoformat(str(data["expires_at"])))

    def fresh(self, now: datetime, margin: float = 60.0) -> bool:
        return self.expires_at - timedelta(seconds=margin) > now


class InvalidGrant(PermanentError):
    """The authorisation server refused the refresh token (revoked, expired, already rotated)."""

    def __init__(self, description: str) -> None:
        super().__init__(f"Conta Azul refused the refresh token: {description}", code="invalid_grant")
        self.description = description


class TokenEndpoint:
    def __init__(self, settings: ContaAzulSettings, client: httpx.Client, audit: Audit) -> None:
        if not settings.client_id or settings.client_secret is None:
            raise PermanentError("connectors.accounting.conta_azul.client_id and client_secret are "
                                 "required (the app's credentials from the Conta Azul developer portal)",
                                 code="not_configured")
        self.settings = settings
        self.client = client
        self.audit = audit

    def exchange_code(self, code: str, redirect_uri: str, now: datetime) -> Tokens:
        body = self._post({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": redirect_uri}, "token.authorization_code")
        return _tokens(body, None, now)

    def refresh(self, refresh_token: str, now: datetime) -> Tokens:
        body = self._post({"grant_type": "refresh_token", "refresh_token": refresh_token},
                          "token.refresh")
        return _tokens(body, refresh_token, now)

    def _post(self, form: dict[str, str], operation: str) -> dict[str, Any]:
        import httpx

        secret = self.settings.client_secret.get_secret_value() if self.settings.client_secret else ""
        request = {"grant_type": form["grant_type"], "url": self.settings.token_uri}
        try:
            response = self.client.post(self.settings.token_uri, data=form,
                                        auth=httpx.BasicAuth(self.settings.client_id or "", secret))
        except httpx.TransportError as exc:  # timeouts included; the answer may be lost: see auth
            self.audit(Exchange(operation, request, None, None, "failed", f"transport: {type(exc).__name__}"))
            raise TransientError(f"Conta Azul token endpoint unreachable: {type(exc).__name__}") from exc
        body = _json(response)
        kept = ("token_type", "expires_in", "error")
        shown: dict[str, Any] = {key: body[key] for key in kept if key in body}
        failed = response.status_code >= 400
        self.audit(Exchange(operation, request, response.status_code, shown, "failed" if failed else "ok",
                            _describe(body) if failed else None))
        if failed:
            raise _token_error(response.status_code, body, response.headers.get("Retry-After"))
        return body


def _json(response: httpx.Response) -> dict[str, Any]:
    if len(response.content) > MAX_TOKEN_BODY:
        return {"error": "oversized_response"}
    try:
        body = response.json()
    except ValueError:
        return {"error": "not_json"}
    return body if isinstance(body, dict) else {"error": "not_an_object"}


def _describe(body: dict[str, Any]) -> str:
    text = f"{body.get('error', 'error')}: {body.get('error_description', '')}".strip(": ")
    return text[:300]


def _token_error(status: int, body: dict[str, Any], retry_after: str | None) -> Exception:
    from connectors.accounting.conta_azul_errors import retry_after_seconds

    if body.get("error") == "invalid_grant":
        return InvalidGrant(_describe(body))
    if status == 429 or status >= 500:
        return TransientError(f"Conta Azul token endpoint answered {status}",
                              retry_after=retry_after_seconds(retry_after))
    return PermanentError(f"Conta Azul token endpoint refused the request ({status}): {_describe(body)}",
                          code=str(body.get("error") or "token_refused")[:40])


def _tokens(body: dict[str, Any], previous_refresh: str | None, now: datetime) -> Tokens:
    access = body.get("access_token")
    refresh = body.get("refresh_token") or previous_refresh  # rotation is Conta Azul's; keep if absent
    expires_in = body.get("expires_in", 3600)
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise PermanentError("Conta Azul token endpoint answered without tokens", code="bad_token_response")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise PermanentError(f"Conta Azul token endpoint answered expires_in={expires_in!r}",
                             code="bad_token_response")
    return Tokens(access, refresh, now + timedelta(seconds=min(float(expires_in), MAX_LIFETIME)))
