"""The SSRF guard of ``http.request``: a network backend that dials only public addresses.

It resolves the host itself, checks every address the resolver returned (``http_addresses``
decides what is public) and dials those very addresses, never the name again: a DNS answer
that changes between check and use (rebinding), or a redirect towards an internal host, is
refused too. TLS still verifies the certificate against the name in the URL.
Imported when a request is made, so checking rules does not import httpcore.
"""

from __future__ import annotations

import socket
from typing import Any

import httpcore

from connectors import http_addresses
from errors import PermanentError


class BlockedAddress(PermanentError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="ssrf_blocked")


class GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and dials only addresses that passed the check."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            refused = [a for a in addresses if not http_addresses.is_public(a)]
            if refused:
                raise BlockedAddress(f"{host} resolves to a non-public address ({refused[0]}); "
                                     "set connectors.http.allow_private to allow it")
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"no address for {host}")
