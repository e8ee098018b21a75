"""Free loopback ports for servers that cannot bind port 0 themselves."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Below Linux's ephemeral range (32768-60999): a server a test stops and starts again must get
# its port back, and in that range any outgoing connection may take it meanwhile, a client
# reconnecting to the stopped server included (a TCP self-connect: local port = remote port).
# CI saw a restarted RabbitMQ fail to listen on 34351 that way.
_PRIVATE_PORTS = range(20000, 32000)


def restartable_port() -> int:
    """A free loopback port outside the ephemeral range, for a server the test may restart."""
    for _ in range(200):
        port = random.choice(_PRIVATE_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PRIVATE_PORTS.start}-{_PRIVATE_PORTS.stop - 1}")
