"""The Dashboard page through the app: figures, filters, exports, live counters, the plotly bundle."""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from store.db import session_scope
from store.seed import seed_demo


@pytest.fixture
def demo(db_engine: sa.Engine) -> sa.Engine:
    with session_scope(db_engine) as s:
        seed_demo(s, seed=5, customers=40, technicians=8, orders=400)  # as of now: the page's default period
    return db_engine


def figure(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{key}">.*?<div class="value">([^<]*)</div>', html, re.S)
    assert found, f"no figure {key}"
    return found.group(1)


def test_the_dashboard_shows_the_figures_of_the_last_30_days(browser: TestClient, admin: str,
                                                             demo: sa.Engine) -> None:
    answer = browser.get("/console/painel")
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    html = answer.text
    assert int(figure(html, "opened").replace(".", "")) > 50
    assert figure(html, "invoiced").startswith("R$ ")
    assert '<script src="/console/vendor/plotly.min.js"' in html
    charts = json.loads(re.search(r'id="dados-graficos">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert len(charts["daily"]["days"]) == 30 and sum(charts["daily"]["opened"]) > 50
    assert "<script>" not in html  # no inline script: CSP script-src 'self'


def test_the_home_page_is_the_dashboard(browser: TestClient, admin: str) -> None:
    assert browser.get("/console/").headers["location"] == "/console/painel"


def test_a_region_filter_narrows_the_figures_and_carries_to_the_exports(
        browser: TestClient, admin: str, demo: sa.Engine) -> None:
    whole = int(figure(browser.get("/console/painel?dias=90").text, "opened").replace(".", ""))
    html = browser.get("/console/painel?dias=90&regiao=sp-zona-sul").text
    part = int(figure(html, "opened").replace(".", ""))
    assert 0 < part < whole
    assert "<strong>Região:</strong> sp-zona-sul" in html
    assert 'href="/console/painel/exportar.pdf?dias=90&amp;regiao=sp-zona-sul"' in html
    assert 'href="/console/painel/exportar.xlsx?dias=90&amp;regiao=sp-zona-sul"' in html
    book = load_workbook(io.BytesIO(browser.get("/console/painel/exportar.xlsx?dias=90&regiao=sp-zona-sul")
                                    .content))
    summary = {row[0]: row[1] for row in book["Resumo"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Ordens abertas"] == part and summary["Região"] == "sp-zona-sul"


def test_exports_are_attachments_named_by_period(browser: TestClient, admin: str, demo: sa.Engine) -> None:
    xlsx = browser.get("/console/painel/exportar.xlsx?de=2026-11-01&ate=2026-11-30")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert 'filename="painel-20261101-20261130.xlsx"' in xlsx.headers["content-disposition"]
    pdf = browser.get("/console/painel/exportar.pdf?dias=7")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_bad_filter_is_explained_and_the_default_period_shown(browser: TestClient, admin: str) -> None:
    html = browser.get("/console/painel?dias=9999&de=ontem").text
    assert "período inválido" in html and "data &#39;de&#39; inválida" in html
    assert 'data-figure="opened"' in html
    html = browser.get("/console/painel?de=2026-01-01&ate=2027-06-01").text
    assert "no máximo 366 dias" in html


def test_the_live_counters_arrive_as_server_sent_events(browser: TestClient, admin: str,
                                                        demo: sa.Engine) -> None:
    answer = browser.get("/console/dashboard/stream?events=1")
    assert answer.headers["content-type"].startswith("text/event-stream")
    [event] = [block for block in answer.text.split("\n\n") if block.startswith("event: counters")]
    counters = json.loads(event.split("data: ", 1)[1])
    assert counters["in_progress"] >= 0 and "opened_today" in counters and "at" in counters


def test_the_plotly_bundle_is_served_by_the_console(browser: TestClient) -> None:
    answer = browser.get("/console/vendor/plotly.min.js")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in answer.content[:2000]


def test_the_dashboard_and_its_exports_need_a_login(browser: TestClient) -> None:
    for path in ("/console/painel", "/console/painel/exportar.xlsx", "/console/painel/exportar.pdf",
                 "/console/dashboard/stream"):
        answer = browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_a_viewer_reads_the_dashboard_and_exports_it(browser: TestClient, viewer: str) -> None:
    assert browser.get("/console/painel").status_code == 200
    assert browser.get("/console/painel/exportar.pdf").content.startswith(b"%PDF")
