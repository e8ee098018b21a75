"""Configuration: connectors (secrets masked), templates with preview, rules edited and committed to git."""

from __future__ import annotations

from fastapi import APIRouter

from console.context import NavItem

NAV = NavItem("/console/configuracao", "Configuração", "Conectores, modelos de mensagem e regras")


def register(router: APIRouter) -> None:
    pass
