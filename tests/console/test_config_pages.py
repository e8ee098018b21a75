"""Configuration in the console: connector settings masked, template preview and segments, edits that
are validated first and committed to git with the admin as author, rules switched off as a flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from engine.settings import Settings
from store.audit import query_entries
from store.db import session_scope
from tests.console.conftest import csrf_of, git

SMS = "/console/configuracao/modelos/sms/appointment_reminder"


def test_connector_settings_show_secrets_masked(browser: TestClient, admin: str, settings: Settings) -> None:
    settings.connectors.sms.auth_token = SecretStr("tok-very-secret-123")
    settings.connectors.email.password = SecretStr("smtp-pass-456")
    html = browser.get("/console/configuracao").text
    assert "tok-very-secret-123" not in html and "smtp-pass-456" not in html
    assert "auth_token</code></th><td>***" in html


@pytest.mark.usefixtures("project")
def test_a_template_is_previewed_on_sample_data_with_its_sms_segments(browser: TestClient,
                                                                     viewer: str) -> None:
    html = browser.get(SMS).text
    assert "Segmentos:" in html and "Refrigeração Paulista" in html
    edited = {"csrf_token": viewer, "parte_text": "Olá {{ data.customer.name }}"}
    answer = browser.post(SMS + "/previa", data=edited)
    assert answer.json()["rendered"]["text"] == "Olá Maria Oliveira"
    assert answer.json()["segments"] == 1


@pytest.mark.usefixtures("project")
def test_saving_a_template_commits_it_with_the_admin_as_author(browser: TestClient, admin: str,
                                                             project: Path, db_engine: sa.Engine) -> None:
    text = "Lembrete: {{ data.customer.name }}, visita amanhã. {{ config.company.name }}"
    answer = browser.post(SMS, data={"csrf_token": admin, "parte_text": text, "acao": "salvar"})
    assert answer.status_code == 200 and "Salvo e registrado no git" in answer.text
    assert (project / "templates/sms/appointment_reminder.txt").read_text(encoding="utf-8") == text
    log = git(project, "log", "-1", "--format=%an|%cn|%s", "--name-only")
    assert log.startswith("ana|despacho console|templates/sms/appointment_reminder: edited in the console")
    assert "templates/sms/appointment_reminder.txt" in log
    with session_scope(db_engine) as session:
        assert query_entries(session, actor="user:ana", action="console.template_saved")


@pytest.mark.usefixtures("project")
def test_a_template_with_a_problem_is_not_saved(browser: TestClient, admin: str, project: Path) -> None:
    before = git(project, "rev-parse", "HEAD")
    edited = {"csrf_token": admin, "parte_text": "Oi {{ cliente.nome }}", "acao": "salvar"}
    answer = browser.post(SMS, data=edited)
    assert answer.status_code == 422 and "unknown variable" in answer.text
    assert git(project, "rev-parse", "HEAD") == before
    assert "cliente" not in (project / "templates/sms/appointment_reminder.txt").read_text(encoding="utf-8")


@pytest.mark.usefixtures("project")
def test_a_viewer_cannot_save_a_template(browser: TestClient, viewer: str, project: Path) -> None:
    before = git(project, "rev-parse", "HEAD")
    answer = browser.post(SMS, data={"csrf_token": viewer, "parte_text": "x", "acao": "salvar"})
    assert answer.status_code == 403
    assert git(project, "rev-parse", "HEAD") == before


@pytest.mark.usefixtures("project")
def test_disabling_a_rule_writes_the_flag_and_commits(browser: TestClient, admin: str,
                                                      project: Path) -> None:
    page = browser.get("/console/configuracao").text
    assert "invoice" in page
    answer = browser.post("/console/configuracao/regras-ativas",
                          data={"csrf_token": admin, "arquivo": "appointments.yaml",
                                "regra": _first_rule(project / "rules/appointments.yaml"), "ativa": "nao"})
    assert answer.status_code == 303
    text = (project / "rules/appointments.yaml").read_text(encoding="utf-8")
    assert "enabled: false" in text
    assert git(project, "log", "-1", "--format=%an %s").startswith("ana rule ")
    assert "desativada" in browser.get("/console/configuracao").text


@pytest.mark.usefixtures("project")
def test_a_rules_feature_flag_is_set_and_removed_from_the_console_and_audited(
        browser: TestClient, admin: str, project: Path, db_engine: sa.Engine) -> None:
    from store.flags import all_flags

    rule = _first_rule(project / "rules/appointments.yaml")
    before = git(project, "rev-parse", "HEAD")
    answer = browser.post("/console/configuracao/regras-flag",
                          data={"csrf_token": admin, "regra": rule, "modo": "shadow"})
    assert answer.status_code == 303
    with session_scope(db_engine) as session:
        assert all_flags(session)[f"rule:{rule}"].mode == "shadow"
        assert [e.action for e in query_entries(session, entity_id=f"rule:{rule}")] == ["flag.set"]
    assert git(project, "rev-parse", "HEAD") == before  # a flag is not a commit
    assert "<code>shadow</code>" in browser.get("/console/configuracao").text

    browser.post("/console/configuracao/regras-flag",
                 data={"csrf_token": admin, "regra": rule, "modo": "nenhum"})
    with session_scope(db_engine) as session:
        assert f"rule:{rule}" not in all_flags(session)


@pytest.mark.usefixtures("project")
def test_a_rule_flag_for_an_unknown_rule_or_mode_is_refused(browser: TestClient, admin: str,
                                                            project: Path, db_engine: sa.Engine) -> None:
    from store.flags import all_flags

    unknown = browser.post("/console/configuracao/regras-flag",
                           data={"csrf_token": admin, "regra": "no-such-rule", "modo": "off"})
    rule = _first_rule(project / "rules/appointments.yaml")
    bad_mode = browser.post("/console/configuracao/regras-flag",
                            data={"csrf_token": admin, "regra": rule, "modo": "percent"})
    assert unknown.status_code >= 400 and bad_mode.status_code >= 400
    with session_scope(db_engine) as session:
        assert all_flags(session) == {}


def test_a_viewer_cannot_set_a_rule_flag(browser: TestClient, viewer: str) -> None:
    answer = browser.post("/console/configuracao/regras-flag",
                          data={"csrf_token": viewer, "regra": "x", "modo": "off"})
    assert answer.status_code == 403


def _first_rule(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("- id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no rule")


@pytest.mark.usefixtures("project")
def test_a_broken_rule_file_is_refused_with_located_problems(browser: TestClient, admin: str,
                                                            project: Path) -> None:
    before = (project / "rules/invoices.yaml").read_text(encoding="utf-8")
    answer = browser.post("/console/configuracao/regras/invoices.yaml",
                          data={"csrf_token": admin, "texto": "rules:\n  - id: x\n    on: [\n"})
    assert answer.status_code == 422
    assert str(project / "rules") in answer.text and "despacho-console-" not in answer.text
    assert (project / "rules/invoices.yaml").read_text(encoding="utf-8") == before


@pytest.mark.usefixtures("project")
def test_a_rule_file_saved_unchanged_makes_no_commit(browser: TestClient, admin: str,
                                                     project: Path) -> None:
    before = git(project, "rev-parse", "HEAD")
    html = browser.get("/console/configuracao/regras/invoices.yaml").text
    text = (project / "rules/invoices.yaml").read_text(encoding="utf-8")
    answer = browser.post("/console/configuracao/regras/invoices.yaml",
                          data={"csrf_token": csrf_of(html), "texto": text})
    assert answer.status_code == 200 and "Nada mudou" in answer.text
    assert git(project, "rev-parse", "HEAD") == before
