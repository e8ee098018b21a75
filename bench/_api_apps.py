"""The two servers bench_api.py compares, as uvicorn factories (same uvicorn, same worker count).

The baseline is what any authenticated FastAPI endpoint pays: a pydantic
body and the same JWT check as the real API (HS256 only, ``kid``, issuer,
audience, expiry, required claims), with PyJWT and nothing else.
"""

from __future__ import annotations

import os
from typing import Any

import jwt
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub"]


class Body(BaseModel):
    type: str
    id: str
    data: dict[str, Any] = {}


def bare_app() -> FastAPI:
    """The baseline: the same bearer JWT checked with PyJWT, a pydantic body, 202."""
    keys = dict(item.split(":", 1) for item in os.environ["DESPACHO_API__JWT_KEYS"].split(","))
    app = FastAPI()

    @app.post("/v1/events", status_code=202)
    async def accept(request: Request, body: Body) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            key = keys[jwt.get_unverified_header(token)["kid"]]
            claims = jwt.decode(token, key, algorithms=["HS256"], audience="despacho-api", issuer="despacho",
                                leeway=5, options={"require": REQUIRED_CLAIMS})
        except (jwt.PyJWTError, KeyError) as exc:
            raise HTTPException(401, "invalid token") from exc
        if scheme.lower() != "bearer" or "events:write" not in claims["scope"].split():
            raise HTTPException(403, "insufficient scope")
        return {"accepted": [{"id": body.id, "stored": True}]}

    return app


def real_app() -> FastAPI:
    from api.server import app_from_environment

    return app_from_environment()
