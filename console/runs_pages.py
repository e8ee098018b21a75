"""Runs and dead letters: search runs, read a run's trace, retry or discard dead letters."""

from __future__ import annotations

from fastapi import APIRouter

from console.context import NavItem

NAV = NavItem("/console/execucoes", "Execuções", "Execuções de regras e cartas mortas")


def register(router: APIRouter) -> None:
    pass
