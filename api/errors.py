"""Errors the API raises on purpose, each with its HTTP status and a stable ``code``.

Every error leaves the API as ``{"error": {"code", "message", "details"}}``
(``api.handlers`` renders them, and maps the store's errors to statuses).
"""

from __future__ import annotations

from typing import Any

from errors import DespachoError
from personal_data import mask_text, mask_value


class ApiError(DespachoError):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}


class Unauthenticated(ApiError):
    """No token, or one that failed a check (signature, expiry, audience, algorithm, key)."""

    status = 401
    code = "invalid_token"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        code = code or self.code
        # RFC 6750: a missing token gets the bare challenge, a bad one says invalid_token
        challenge = 'Bearer realm="despacho"' if code == "missing_token" else \
            'Bearer realm="despacho", error="invalid_token"'
        super().__init__(message, code=code, details=details, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status = 403
    code = "insufficient_scope"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class InvalidRequest(ApiError):
    """The body is not what the route takes; ``details`` as pydantic's (``loc``, ``msg``, ``type``)."""

    status = 422
    code = "invalid_request"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


class TokenRequestError(ApiError):
    """An OAuth2 token request refused; ``code`` is the RFC 6749 error name."""

    status = 400
    code = "invalid_request"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Every error the API answers: a phone, email or tax id echoed from the request is masked."""
    return {"error": {"code": code, "message": mask_text(message), "details": mask_value(details)}}
