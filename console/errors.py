"""What a console request can be refused for; ``console.app`` turns each into a page or a redirect."""

from __future__ import annotations

from errors import DespachoError


class ConsoleRefusal(DespachoError):
    """Base of the console's refusals."""


class LoginRequired(ConsoleRefusal):
    """No live session: the browser is sent to the login page."""

    def __init__(self, next_path: str = "/console/") -> None:
        super().__init__("login required")
        self.next_path = next_path


class AdminOnly(ConsoleRefusal):
    """A viewer tried a change: 403."""

    def __init__(self) -> None:
        super().__init__("somente administradores podem fazer alterações")


class CsrfRefused(ConsoleRefusal):
    """A form arrived without the session's CSRF token (or with another one): 403."""

    def __init__(self) -> None:
        super().__init__("formulário expirado ou inválido (token CSRF); recarregue a página e tente de novo")
