"""Which addresses ``http.request`` may dial: public ones, including IPv4 hidden inside IPv6.

An IPv6 address can carry an IPv4 address that the network delivers to: the
IPv4-mapped and IPv4-compatible forms (``::ffff:127.0.0.1``, ``::127.0.0.1``),
SIIT (``::ffff:0:127.0.0.1``), 6to4 (``2002:7f00:1::``), Teredo (``2001:0::/32``)
and NAT64 (``64:ff9b::7f00:1``). Such an address is as public as the IPv4
inside it, so the check decodes it and judges the IPv4. The local-use NAT64
prefix ``64:ff9b:1::/48`` (RFC 8215) is refused whatever it carries: the
operator picks where the IPv4 sits in it, and it is not public by definition.

No third-party import here: ``despacho validate`` uses it on literal hosts.
"""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SIIT_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_LEGACY_IPV4 = re.compile(r"^[0-9a-fA-Fx.]+$")  # 2130706433, 0x7f.1, 0177.0.0.1


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address delivers to (Teredo carries two); none for plain IPv6."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE or ip in _SIIT_TRANSLATED:
        return (low32,)
    return ()


def is_public(address: str | IPAddress) -> bool:
    """Globally routable unicast, judged on the embedded IPv4 when there is one."""
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public(ip)
    if ip in _NAT64_LOCAL_USE:
        return False
    embedded = embedded_ipv4(ip)
    if embedded:
        return all(_public(inner) for inner in embedded)
    return _public(ip)


def _public(ip: IPAddress) -> bool:
    # is_global alone lets multicast and (on some Python versions) reserved blocks through
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells out, in any form the resolver accepts; ``None`` for a name."""
    bare = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(bare) and any(c.isdigit() for c in bare):
        try:
            # inet_aton reads what getaddrinfo would: decimal, octal, hex, fewer than four parts
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """``localhost`` and its subdomains resolve to loopback everywhere (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")
