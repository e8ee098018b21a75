"""api.proxies: X-Forwarded-For is believed only from api.trusted_proxies, read from the right."""

from __future__ import annotations

from typing import Any

from api.proxies import ClientAddress


def scope(peer: str, *forwarded: str) -> dict[str, Any]:
    return {"client": (peer, 4321), "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    assert ClientAddress().of(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address() -> None:
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client() -> None:
    addresses = ClientAddress(["10.0.0.2"])
    assert addresses.of(scope("10.0.0.2", "198.51.100.1")) == "198.51.100.1"


def test_what_the_client_claimed_left_of_the_proxies_is_ignored() -> None:
    # the client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the address it saw
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("10.0.0.2", "1.2.3.4, 198.51.100.1")) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    addresses = ClientAddress(["10.0.0.0/8", "fd00::/8"])
    assert addresses.of(scope("10.0.0.2", "198.51.100.1, fd00::5", "10.1.1.1")) == "198.51.100.1"


def test_garbage_in_the_header_stops_the_walk_at_the_nearest_proxy() -> None:
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("10.0.0.2", "not-an-ip, 10.0.0.7")) == "10.0.0.7"


def test_a_trusted_proxy_without_the_header_is_the_client() -> None:
    assert ClientAddress(["10.0.0.2"]).of(scope("10.0.0.2")) == "10.0.0.2"
