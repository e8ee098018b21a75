"""Who is asking: the session cookie, the CSRF token on every form, and the admin role for changes.

The cookie holds an opaque random token (``store.console_users``); it is ``Secure``, ``HttpOnly``
and ``SameSite=Lax``, scoped to ``/console``. Each session has its own CSRF token, put in every
form as the hidden field ``csrf_token`` and compared in constant time on every POST. The login
form, before any session exists, uses a double-submit token: a random cookie that the form must
repeat.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from console.context import Console, console_of
from console.errors import AdminOnly, CsrfRefused, LoginRequired
from store.console_users import SESSION_TTL, SessionInfo, find_session
from store.db import session_scope

SESSION_COOKIE = "despacho_console"
LOGIN_CSRF_COOKIE = "despacho_console_login"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"


def set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=True, httponly=True,
                        samesite="lax")


def set_session_cookie(response: Response, token: str) -> None:
    set_cookie(response, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="lax")


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's token and whether it is new (then the response must set its cookie)."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if 20 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(32), True


def same_token(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


async def current_user(request: Request, console: Annotated[Console, Depends(console_of)]) -> SessionInfo:
    token = request.cookies.get(SESSION_COOKIE, "")

    def lookup() -> SessionInfo | None:
        with session_scope(console.engine) as session:
            return find_session(session, token)

    found = await anyio.to_thread.run_sync(lookup) if token else None
    if found is None:
        raise LoginRequired(_next_path(request))
    request.state.console_user = found.name
    return found


def _next_path(request: Request) -> str:
    path = request.url.path
    if request.method != "GET" or not path.startswith("/console/") or path.startswith("//"):
        return "/console/"
    return path + (f"?{request.url.query}" if request.url.query else "")


User = Annotated[SessionInfo, Depends(current_user)]


async def verified_form(request: Request, user: User) -> FormData:
    """The POSTed form, after its CSRF token matched the session's."""
    form = await request.form()
    if not same_token(form.get(CSRF_FIELD), user.csrf_token):
        raise CsrfRefused()
    return form


async def admin_user(user: User) -> SessionInfo:
    if not user.is_admin:
        raise AdminOnly()
    return user


async def admin_form(request: Request, user: Annotated[SessionInfo, Depends(admin_user)]) -> FormData:
    """A change's form: an admin's, with the right CSRF token (the role is checked first)."""
    return await verified_form(request, user)


Admin = Annotated[SessionInfo, Depends(admin_user)]
Form = Annotated[FormData, Depends(verified_form)]
AdminForm = Annotated[FormData, Depends(admin_form)]
