"""RabbitMQ for tests: a vhost of the test's own on the shared server (fail, never skip, when it is
down) and private servers a test may kill and start again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.runtime.broker_ping import ping
from tests.fakes.ports import restartable_port

SHARED_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
START_HINT = (
    "RabbitMQ does not answer on 127.0.0.1:5672; start it with `rabbitmq-server -detached` "
    "(or `service rabbitmq-server start`, or `make services`)"
)


def _rabbitmqctl(*args: str) -> None:
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        pytest.fail("rabbitmqctl is not installed (apt install rabbitmq-server)")
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """The broker URL of a fresh vhost on the machine's RabbitMQ, deleted afterwards: queues of
    concurrent test runs never meet (the vhost does what the key namespace does on Redis)."""
    failure = ping(SHARED_URL)
    if failure:
        pytest.fail(f"{START_HINT}\n({failure})")
    vhost = f"despacho-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


class PrivateRabbitMQ:
    """A rabbitmq-server node of the test's own (own name, ports, data and log folders, no plugins),
    so killing it leaves the shared server alone. Its data folder survives restarts, as on a server."""

    def __init__(self, folder: Path) -> None:
        # Not /usr/sbin/rabbitmq-server: that wrapper switches to the rabbitmq user, who may not
        # write the test's folder.
        binary = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not binary.exists():
            pytest.fail(f"{binary} is missing: install RabbitMQ (apt install rabbitmq-server)")
        self.binary = str(binary)
        self.folder = folder
        self.port = restartable_port()
        self.process: subprocess.Popen[bytes] | None = None
        name = f"despacho-test-{uuid.uuid4().hex[:8]}@localhost"
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\ndisk_free_limit.absolute = 50MB\n")
        (folder / "enabled_plugins").write_text("[].\n")
        self.env = {**os.environ, "RABBITMQ_NODENAME": name, "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(restartable_port()),
                    "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"), "RABBITMQ_LOG_BASE": str(folder / "log"),
                    "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),  # rabbitmq.conf, without the suffix
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
                    "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid")}

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> None:
        """Start the node; a node that dies while booting is started again (twice at most), since on
        a loaded machine the previous node's name or port may linger a moment after its death."""
        for _attempt in range(3):
            if self._boot():
                return
            self.stop()
            time.sleep(1)
        pytest.fail(f"private rabbitmq-server on port {self.port} did not start "
                    f"(logs in {self.folder / 'log'}):\n{self._log_tail()}")

    def _boot(self) -> bool:
        self.process = subprocess.Popen([self.binary], env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if ping(self.url) is None:
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        logs = sorted((self.folder / "log").glob("*.log"))
        tails = [f"{log.name}: " + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                 for log in logs]
        return "\n".join(tails) or "(no log written)"

    def stop(self) -> None:
        """Like a crash: the node's whole process group is SIGKILLed; it keeps only what it wrote to disk.
        Returns once every process of the group is gone: the script's Erlang VM is its child, not
        itself, and a VM still dying keeps the port and the node name that the next start needs."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _group_alive(self.process.pid):
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()


def _group_alive(group: int) -> bool:
    """Whether a process of the group still runs (zombies left to be reaped do not count)."""
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False
