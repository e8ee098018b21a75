"""The API's own fixtures (a migrated database, the real app, tokens with scopes) for attack replays,
and ``served_api``: the API as shipped, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.conftest import (  # noqa: F401  (fixtures are found by name)
    JWT_KEY,
    api_config,
    app,
    auth,
    client,
    db_engine,
    db_url,
    make_client,
    settings,
    token_for,
)
from tests.api.test_ratelimit import free_port, wait_until_serving
from tests.connectors.calendar.conftest import (  # noqa: F401  (the fake Google Calendar, a connected technician)
    box,
    calendar,
    calendar_settings,
    client_secrets,
    connect,
    google,
)
from tests.connectors.conftest import engine  # noqa: F401


@pytest.fixture
def served_api(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """``despacho api`` as shipped (real uvicorn, its own process) on the test database; returns its URL."""
    database_url: str = request.getfixturevalue("db_url")
    request.getfixturevalue("settings")  # the rules/ and templates/ folders the process loads
    processes: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> str:
        config = tmp_path / "config.yaml"
        config.write_text(f"database:\n  url: {database_url}\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESPACHO_")}
        env.update(DESPACHO_CONFIG=str(config), DESPACHO_API__JWT_KEYS=f"t1:{JWT_KEY}",
                   DESPACHO_API__RATE_LIMIT_STORAGE="memory://",
                   **{f"DESPACHO_API__{name.upper()}": value for name, value in overrides.items()})
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-c", "from cli import main; main()", "api", "--host", "127.0.0.1",
             "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
