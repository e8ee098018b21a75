"""Help: the admin's guide (docs/console.md) served by the console, so its links work offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.auth import User
from console.context import console_of
from console.render import page

NAV = None
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "console.md"


def register(router: APIRouter) -> None:
    @router.get("/ajuda")
    async def help_page(request: Request, user: User) -> Response:
        text = GUIDE.read_text(encoding="utf-8") if GUIDE.is_file() else "docs/console.md is missing."
        return page(console_of(request), request, "help.html", user, guide=text)
