"""The client's address: the socket peer, or what a trusted proxy reports in ``X-Forwarded-For``.

Anyone can send ``X-Forwarded-For``; believing it from anyone would let a
caller pick the address its rate limits are counted under. The header is read
only when the peer is one of ``api.trusted_proxies``, and then from the right:
each trusted proxy appends the address it saw, so the first address from the
right that is not a trusted proxy is the client (the entries left of it are
whatever the client claimed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

UNKNOWN = "unknown"


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.networks = tuple(ipaddress.ip_network(item, strict=False) for item in trusted_proxies)

    def of(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else UNKNOWN
        if not self.networks or not self._trusted(address):
            return address
        for hop in reversed(_forwarded_for(scope)):
            if not _is_address(hop):
                break  # garbage left of our proxies: the proxy nearest to it is what we know
            if not self._trusted(hop):
                return hop
            address = hop
        return address

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _forwarded_for(scope: Scope) -> list[str]:
    # several X-Forwarded-For headers count as one list, in order (RFC 9110 §5.3)
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [hop for hop in hops if hop]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
