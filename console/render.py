"""Pages as HTML responses, each with the console's Content-Security-Policy (no inline scripts)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from console.context import Console
from store.console_users import SessionInfo

# Scripts and styles only from /console/static; plotly sets element styles from its script, which
# style-src governs for <style> elements it creates: 'unsafe-inline' for styles only, never scripts.
CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")


def page(console: Console, request: Request, template: str, user: SessionInfo | None, *,
         status_code: int = 200, **values: Any) -> HTMLResponse:
    html = console.pages.get_template(template).render(
        user=user, csrf_token=user.csrf_token if user else values.pop("csrf_token", ""),
        nav=console.nav, path=request.url.path, docs=DOCS, **values)
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": CONSOLE_CSP})


# where the help links go: docs/console.md, served by the console itself (no internet needed)
DOCS = "/console/ajuda"
