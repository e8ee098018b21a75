"""Hostile data on the Dashboard: names and filters from the database or the URL are text, never markup
or script (Jinja2 autoescape; the charts' JSON block escapes ``</script>``)."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.db import session_scope
from store.models import Technician
from tests.console.conftest import (  # noqa: F401  (fixtures found by name; they override the API's here)
    admin,
    app,
    browser,
    db_engine,
    make_user,
    settings,
)

SCRIPT = '</script><script>alert("x")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(1)>'


def test_a_technician_name_with_markup_is_shown_as_text(
        browser: TestClient, admin: str, db_engine: sa.Engine) -> None:  # noqa: F811
    with session_scope(db_engine) as s:
        s.add(Technician(name=SCRIPT, region=ATTRIBUTE, phone="+5511911112222",
                         working_hours={"mon": ["08:00", "18:00"]}))
    html = browser.get("/console/painel").text
    assert SCRIPT not in html and ATTRIBUTE not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(" in html
    block = re.search(r'id="dados-graficos">(.*?)</script>', html, re.S)
    assert block is not None and "<" not in block.group(1)
    assert json.loads(block.group(1))["technicians"]["names"] == [SCRIPT]


def test_filters_from_the_url_are_escaped_and_bound_never_spliced(
        browser: TestClient, admin: str) -> None:  # noqa: F811
    hostile = "x' OR '1'='1"
    answer = browser.get("/console/painel", params={"regiao": ATTRIBUTE, "categoria": hostile,
                                                    "tecnico": SCRIPT})
    assert answer.status_code == 200
    assert ATTRIBUTE not in answer.text and SCRIPT not in answer.text
    assert re.search(r'data-figure="opened">.*?<div class="value">0</div>', answer.text, re.S)


def test_an_overlong_filter_is_cut_not_echoed_whole(
        browser: TestClient, admin: str) -> None:  # noqa: F811
    answer = browser.get("/console/painel", params={"regiao": "a" * 5000})
    assert answer.status_code == 200 and "a" * 101 not in answer.text
