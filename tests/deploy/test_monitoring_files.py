"""The shipped Prometheus alert rules and Grafana dashboard read only metrics despacho exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from api.metrics import Metrics
from engine.runtime.metrics import REGISTRY
from store.db import make_engine

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
METRIC = re.compile(r"\bdespacho_[a-z_]+")


def exported(migrated_template: Path) -> set[str]:
    """Every sample name the API's /metrics can show (HTTP, engine, backlog)."""
    names: set[str] = set()
    app = Metrics(make_engine(f"sqlite:///{migrated_template}"))
    for registry in (app.registry, REGISTRY):
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def test_every_alert_reads_exported_metrics_and_names_a_runbook(migrated_template: Path) -> None:
    known = exported(migrated_template)
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 6
    for alert in alerts:
        assert set(METRIC.findall(alert["expr"])) <= known, alert["alert"]
        assert alert["annotations"]["runbook"].startswith("docs/operations.md#"), alert["alert"]


def test_every_dashboard_panel_reads_exported_metrics(migrated_template: Path) -> None:
    known = exported(migrated_template)
    board = json.loads((DEPLOY / "grafana" / "despacho.json").read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    assert exprs and all(METRIC.findall(expr) for expr in exprs)
    for expr in exprs:
        assert set(METRIC.findall(expr)) <= known, expr


def test_every_runbook_link_points_at_a_section_of_the_operations_guide() -> None:
    guide = (DEPLOY.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", guide, flags=re.MULTILINE)}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        anchor = rule["annotations"]["runbook"].split("#", 1)[1].split(":", 1)[0]
        assert anchor in anchors, (rule["alert"], anchor)
