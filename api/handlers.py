"""Exception handlers: every failure leaves as ``{"error": {"code", "message", "details"}}``.

The store's errors keep their meaning: ``ValidationFailed`` is 422 naming the
field, ``NotFound`` 404, ``IllegalTransition`` 409 with the allowed targets,
a permanent domain failure (no eligible technician) 409 with its code.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from api.errors import ApiError, RateLimited, error_body
from errors import PermanentError
from store.errors import IllegalTransition, NotFound, ValidationFailed

log = logging.getLogger("despacho.api")

_HTTP_CODES = {400: "bad_request", 401: "invalid_token", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "invalid_request", 429: "rate_limited"}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if isinstance(exc, RateLimited) and isinstance(exc.details, dict):
        request.app.state.ctx.metrics.rate_limited.labels(exc.details.get("scope", "")).inc()
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationFailed)
    return error_response(422, "validation_failed", exc.message, {"field": exc.field})


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return error_response(404, "not_found", str(exc), {"entity": exc.entity, "id": exc.record_id})


async def _illegal_transition(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    return error_response(409, "illegal_transition", str(exc),
                          {"current": exc.current, "target": exc.target, "allowed": list(exc.allowed)})


async def _permanent(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PermanentError)
    return error_response(409, exc.code, str(exc))


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors()]
    return error_response(422, "invalid_request", _first_problem(details), details)


def _first_problem(details: list[dict[str, Any]]) -> str:
    """``body.name: a bidirectional override (U+202E) is not allowed here (and 1 more)``: the field first."""
    if not details:
        return "the request does not match the schema"
    first = details[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    # the driver's message may carry the URL: log it, answer without it
    log.error("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    return error_response(503, "database_unavailable", "the database is not answering; try again",
                          headers={"Retry-After": "5"})


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ValidationFailed, _validation_failed)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(IllegalTransition, _illegal_transition)
    app.add_exception_handler(PermanentError, _permanent)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(Exception, _internal)


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error happened; it was logged",
                          {"request_id": getattr(request.state, "request_id", None)})
