"""What every console page shares: the database, the settings, the engine's parts, the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape

if TYPE_CHECKING:
    from engine.runtime.compose import Core

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    help: str


@dataclass
class Console:
    settings: Any  # engine.settings.Settings
    engine: sa.Engine
    core: Core | None = None
    nav: list[NavItem] = field(default_factory=list)
    pages: Environment = field(default_factory=lambda: page_environment())


def page_environment() -> Environment:
    """Jinja2 for the pages: autoescaped (every value from the database or a rule file is text)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


def _when(value: Any) -> str:
    """A timestamp for people: ``2026-12-05 14:03:07 UTC``; '—' when missing."""
    if value is None:
        return "—"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return str(value)[:19].replace("T", " ")


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console
