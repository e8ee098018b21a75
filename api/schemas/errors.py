"""The one error shape, declared on every route so clients (and schemathesis) can rely on it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Bad request"),
    401: _error("No token, or an invalid or expired one"),
    403: _error("The token lacks the scope"),
    404: _error("No such record"),
    409: _error("Conflicts with the record's state"),
    413: _error("Body too large"),
    422: _error("The request or a value in it was refused"),
    429: _error("Rate limit reached; see Retry-After"),
    503: _error("The database is not answering"),
}
