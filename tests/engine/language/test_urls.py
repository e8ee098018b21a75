"""Static URLs in rules are judged at load time by the http connector's SSRF rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.http import HttpSettings
from engine.language.loader import load_rules
from engine.language.urls import static_url
from tests.conftest import write

RULE = """
rules:
  - id: ping
    on: order.done
    do:
      - http.request:
          url: "{url}"
"""


@pytest.mark.parametrize(("value", "expected"), [
    ("https://api.example.com/x", "https://api.example.com/x"),
    ("http://10.0.0.5/orders/{{ data.id }}", "http://10.0.0.5/"),
    ("http://10.0.0.5?id={{ data.id }}", "http://10.0.0.5?"),
    ("http://{{ config.host }}/x", None),
    ("{{ data.url }}", None),
    ("http://10.0.0.{{ data.n }}/", None),
    (42, None),
])
def test_static_url_keeps_what_is_known_before_rendering(value: object, expected: str | None) -> None:
    assert static_url(value) == expected


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data", "http://10.0.0.5/o/{{ data.id }}"])
def test_a_static_private_url_is_a_located_problem(project: Path, url: str) -> None:
    write(project / "rules/a.yaml", RULE.format(url=url))
    result = load_rules(["rules"], "templates", http_settings=HttpSettings())
    (problem,) = result.problems
    where = (problem.file, problem.line, problem.path)
    assert where == ("rules/a.yaml", 6, "rules[0].do[0].http.request.url")
    assert "private, loopback or reserved" in problem.message
    assert "connectors.http.allow_private" in problem.message


def test_allow_private_accepts_static_private_urls(project: Path) -> None:
    write(project / "rules/a.yaml", RULE.format(url="http://10.0.0.5/x"))
    assert load_rules(["rules"], "templates", http_settings=HttpSettings(allow_private=True)).ok


def test_a_static_host_outside_allow_hosts_is_a_problem(project: Path) -> None:
    write(project / "rules/a.yaml", RULE.format(url="https://evil.example.net/x"))
    settings = HttpSettings(allow_hosts=["*.example.com"])
    (problem,) = load_rules(["rules"], "templates", http_settings=settings).problems
    assert problem.message == "host 'evil.example.net' is not in connectors.http.allow_hosts"


def test_public_and_templated_hosts_pass(project: Path) -> None:
    write(project / "rules/a.yaml", RULE.format(url="https://api.example.com/x")
          + RULE.format(url="{{ data.url }}").replace("rules:\n", "").replace("ping", "ping2"))
    assert load_rules(["rules"], "templates", http_settings=HttpSettings()).ok


def test_without_http_settings_static_urls_are_not_judged(project: Path) -> None:
    write(project / "rules/a.yaml", RULE.format(url="http://127.0.0.1/x"))
    assert load_rules(["rules"], "templates").ok
