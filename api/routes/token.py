"""``POST /v1/token``: client credentials for an access token (OAuth 2.0, RFC 6749 §4.4).

The secret is checked with argon2 (slow on purpose), so this route has its own,
stricter per-IP limit, and failed attempts are counted per (client id, IP): a
guesser is stopped for the client it targets from the address it uses, while
the client's own callers, from their addresses, still get tokens. There is
deliberately no budget per client id alone: anyone could spend it and lock
the client out, and a 256-bit secret is not guessed by rotating addresses.
Credentials come as form fields or HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Request

from api.context import ApiContext
from api.errors import TokenRequestError
from api.schemas.operations import TokenOut
from api.scopes import ADMIN, SCOPES
from store.api_clients import InvalidCredentials, authenticate
from store.db import session_scope

router = APIRouter(prefix="/v1", tags=["auth"])
GRANT_TYPE = "client_credentials"
MAX_CLIENT_ID = 100  # as the form field; a Basic header could carry more into counters and audit rows


class InvalidClient(TokenRequestError):
    status = 401
    code = "invalid_client"


@router.post("/token", response_model=TokenOut, responses={
    400: {"description": "unsupported_grant_type, invalid_scope or invalid_request"},
    401: {"description": "invalid_client"}, 429: {"description": "Too many token requests"}})
async def issue_token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=50)],
    client_id: Annotated[str | None, Form(max_length=100)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=2000)] = None,
) -> TokenOut:
    ctx: ApiContext = request.app.state.ctx
    ip = ctx.addresses.of(request.scope)
    await ctx.limiter.hit(ctx.api.token_rate_limit, "token", ip)
    if grant_type != GRANT_TYPE:
        raise TokenRequestError(f"grant_type must be '{GRANT_TYPE}'", code="unsupported_grant_type")
    client_id, client_secret = _credentials(request, client_id, client_secret)
    request.state.client_id_tried = client_id  # the audit row names it, whatever the outcome
    pair = f"{client_id}@{ip}"
    await ctx.limiter.peek(ctx.api.token_failure_limit, "token-failures", pair)
    try:
        client = await anyio.to_thread.run_sync(_check, ctx, client_id, client_secret)
    except InvalidCredentials as exc:
        await ctx.limiter.count(ctx.api.token_failure_limit, "token-failures", pair)
        raise InvalidClient("invalid client credentials") from exc
    held = frozenset(client.scopes)
    scopes = _granted_scopes(held, scope)
    token = ctx.tokens.issue(client.key_prefix, scopes)
    return TokenOut(access_token=token, expires_in=ctx.api.token_ttl, scope=" ".join(sorted(scopes)))


def _check(ctx: ApiContext, client_id: str, secret: str):  # type: ignore[no-untyped-def]
    with session_scope(ctx.engine) as session:
        return authenticate(session, client_id, secret)


def _credentials(request: Request, client_id: str | None, secret: str | None) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClient("malformed Basic credentials") from exc
    if not client_id or not secret:
        raise TokenRequestError("client_id and client_secret are required (form fields or HTTP Basic)")
    if len(client_id) > MAX_CLIENT_ID:
        raise InvalidClient(f"client_id is longer than {MAX_CLIENT_ID} characters")
    return client_id, secret


def _granted_scopes(held: frozenset[str], requested: str | None) -> frozenset[str]:
    """The requested scopes, each held by the client (``admin`` holds any); none requested: all held."""
    if not requested or not requested.split():
        return held
    wanted = frozenset(requested.split())
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise TokenRequestError(f"unknown scope(s): {', '.join(unknown)}", code="invalid_scope")
    refused = sorted(s for s in wanted if s not in held and ADMIN not in held)
    if refused:
        raise TokenRequestError(f"the client does not hold: {', '.join(refused)}", code="invalid_scope")
    return wanted
