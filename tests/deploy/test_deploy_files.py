"""The deployment files agree with the product: the commands they run exist, the production config
loads with the variables they provide, and the image runs as a non-root user with a health check."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer
import yaml

from cli import app
from engine.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "despacho.env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_production_config_loads_with_the_variables_the_env_file_lists(tmp_path: Path) -> None:
    config = (ROOT / "config.production.example.yaml").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", config))
    environ = env_example()
    assert needed <= set(environ), needed - set(environ)
    settings = load_settings(str(ROOT / "config.production.example.yaml"), environ=environ)
    assert settings.database.url.startswith("postgresql://")
    assert settings.broker.url.startswith("redis://")
    assert {settings.connectors.sms.transport, settings.connectors.whatsapp.transport} == {"twilio"}
    assert settings.execution.metrics_port is not None


def test_every_compose_service_runs_a_real_command_of_the_image() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    ours = {name: service for name, service in compose["services"].items()
            if service.get("image", "").startswith("${DESPACHO_IMAGE")}
    assert {"migrate", "api", "worker-1", "worker-2", "scheduler-1", "scheduler-2"} <= set(ours)
    for name, service in ours.items():
        assert service["command"][0] in commands(), name
    shared = compose["x-despacho"]["environment"]
    config = (ROOT / "config.production.example.yaml").read_text(encoding="utf-8")
    for variable in ("DESPACHO_DATABASE_URL", "REDIS_URL", "DESPACHO_SECRETS_KEYS", "DESPACHO_PUBLIC_URL"):
        assert variable in shared and "${" + variable + "}" in config, variable


def test_every_systemd_unit_runs_a_real_command_as_the_despacho_user() -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert len(units) == 3
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        start = re.search(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
        assert start is not None, unit.name
        argv = shlex.split(start.group(1))
        assert argv[0].endswith("/despacho") and argv[1] in commands(), unit.name
        assert "User=despacho" in text and "NoNewPrivileges=true" in text, unit.name


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] != "root"
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    assert re.search(r'^ENTRYPOINT \[.*"despacho"\]$', dockerfile, flags=re.MULTILINE)


def test_the_staging_config_sends_nothing_to_anyone() -> None:
    settings = load_settings(str(ROOT / "config.staging.example.yaml"), environ=env_example())
    outbound = settings.connectors.model_dump()
    transports = {name: section.get("transport") for name, section in outbound.items()
                  if isinstance(section, dict)}
    real = {name: kind for name, kind in transports.items() if kind not in ("file", None)}
    assert real == {}, real
    assert settings.broker.namespace != "despacho"  # never the production queues


def test_the_staging_override_mounts_the_staging_config_in_every_service() -> None:
    base = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    staging = yaml.safe_load((DEPLOY / "compose.staging.yaml").read_text(encoding="utf-8"))
    ours = {name for name, service in base["services"].items()
            if "DESPACHO_IMAGE" in service.get("image", "")}
    assert set(staging["services"]) == ours
    for name, service in staging["services"].items():
        assert "./config.staging.yaml:/srv/despacho/config.yaml:ro" in service["volumes"], name
