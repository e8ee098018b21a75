"""``mount_console``: the console's routes, static files and refusal pages on the API's app.

Pages register themselves from their modules (``PAGES``): each has ``NAV`` (its menu entry) and
``register(router)``. Login and logout live here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console import config_pages, dashboard_pages, help_pages, runs_pages, status_pages
from console.auth import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Form,
    User,
    clear_session_cookie,
    login_csrf,
    same_token,
    set_cookie,
    set_session_cookie,
)
from console.context import STATIC, Console, console_of
from console.errors import AdminOnly, ConsoleRefusal, CsrfRefused, LoginRequired
from console.render import page
from store.audit import record_action
from store.console_users import LoginRefused, check_login, close_session, open_session
from store.db import session_scope

PAGES: tuple[Any, ...] = (dashboard_pages, status_pages, runs_pages, config_pages, help_pages)
LOGIN_FORM_TTL = 3600
ConsoleDep = Annotated[Console, Depends(console_of)]


def mount_console(app: FastAPI, console: Console) -> None:
    app.state.console = console
    router = APIRouter(prefix="/console", include_in_schema=False)
    _auth_routes(router)
    for module in PAGES:
        if module.NAV is not None:
            console.nav.append(module.NAV)
        module.register(router)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=Path(STATIC)), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refused)


async def _refused(request: Request, exc: Exception) -> Response:
    console: Console = request.app.state.console
    if isinstance(exc, LoginRequired):
        return RedirectResponse(f"/console/login?next={_quote(exc.next_path)}", status_code=303)
    status = 403 if isinstance(exc, AdminOnly | CsrfRefused) else 400
    return page(console, request, "refused.html", None, status_code=status, message=str(exc))


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


_NEXT = re.compile(r"^/console/[A-Za-z0-9_./?=&%+-]*$")


def safe_next(value: object) -> str:
    """Where to go after logging in: a console path, never another site (``//evil``, ``/\\evil``,
    ``/console/..//evil``): plain characters only, no ``//``, no ``..`` segment."""
    if isinstance(value, str) and _NEXT.match(value) and "//" not in value \
            and ".." not in value.split("?", 1)[0].split("/"):
        return value
    return "/console/"


def _auth_routes(router: APIRouter) -> None:
    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, console: ConsoleDep, next: str = "/console/") -> Response:
        token, new = login_csrf(request)
        response = page(console, request, "login.html", None, csrf_token=token, next=safe_next(next),
                        error=None)
        if new:
            set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=LOGIN_FORM_TTL)
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, console: ConsoleDep) -> Response:
        form = await request.form()
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not same_token(form.get(CSRF_FIELD), expected):
            raise CsrfRefused()
        name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
        next_path = safe_next(form.get("next"))

        def attempt() -> str | None:
            with session_scope(console.engine) as session:
                try:
                    user = check_login(session, name, password)
                except LoginRefused:
                    record_action(session, f"user:{name[:100]}", "console.login_refused",
                                  entity_type="console_user", details={"ip": _ip(request)})
                    return None
                token, _ = open_session(session, user)
                record_action(session, f"user:{user.name}", "console.login", entity_type="console_user",
                              entity_id=user.id, details={"ip": _ip(request)})
                return token

        token = await anyio.to_thread.run_sync(attempt)
        if token is None:
            return page(console, request, "login.html", None, status_code=401, csrf_token=expected,
                        next=next_path, error=str(LoginRefused()))
        response = RedirectResponse(next_path, status_code=303)
        set_session_cookie(response, token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console", secure=True, httponly=True)
        return response

    @router.post("/logout")
    async def logout(request: Request, console: ConsoleDep, user: User, form: Form) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")

        def end() -> None:
            with session_scope(console.engine) as session:
                close_session(session, token)
                record_action(session, user.actor, "console.logout", entity_type="console_user",
                              entity_id=user.user_id)

        await anyio.to_thread.run_sync(end)
        response = RedirectResponse("/console/login", status_code=303)
        clear_session_cookie(response)
        return response

    @router.get("/")
    async def home(user: User, console: ConsoleDep) -> Response:
        return RedirectResponse(console.nav[0].path if console.nav else "/console/ajuda", status_code=303)


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""
