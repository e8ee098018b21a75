"""``despacho api-client``, ``audit`` and ``secrets rotate-key``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from store.db import make_engine, session_scope
from store.models import Secret
from store.secrets import SecretBox, SecretsSettings, get_secret, load_ring, put_secret

runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("DESPACHO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", db_url)
    return tmp_path


def test_api_client_create_prints_the_secret_once_as_json_and_stores_only_a_hash(
        cli_env: Path, db_url: str) -> None:
    result = runner.invoke(app, ["api-client", "create", "erp", "--scopes", "events:write,orders:read",
                                 "--events", "service_order.*", "--format", "json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert set(made) == {"client_id", "client_secret"}
    listed = runner.invoke(app, ["api-client", "list", "--format", "json"])
    [client] = json.loads(listed.stdout)["clients"]
    assert client["client_id"] == made["client_id"]
    assert client["scopes"] == ["events:write", "orders:read"]
    assert (client["event_types"], client["event_source"]) == (["service_order.*"], "erp")
    assert made["client_secret"] not in listed.stdout
    audit = runner.invoke(app, ["audit", "--action", "api_client.create", "--format", "json"])
    assert json.loads(audit.stdout)["entries"][0]["entity_id"] == made["client_id"]


def test_an_unknown_scope_is_refused_with_the_known_ones(cli_env: Path) -> None:
    result = runner.invoke(app, ["api-client", "create", "erp", "--scopes", "events:wrte"])
    assert result.exit_code == 1
    assert "unknown scope(s) events:wrte" in result.output


def test_an_events_write_client_without_event_types_is_refused_with_the_option_to_give(
        cli_env: Path) -> None:
    result = runner.invoke(app, ["api-client", "create", "erp", "--scopes", "events:write"])
    assert result.exit_code == 2
    assert "needs --events" in result.output


def test_a_reserved_source_is_refused_naming_who_owns_it(cli_env: Path) -> None:
    result = runner.invoke(app, ["api-client", "create", "erp", "--scopes", "events:write", "--events", "*",
                                 "--source", "scheduler"])
    assert result.exit_code == 1
    assert "api_client.event_source" in result.output and "reserved for the scheduler" in result.output


def test_update_changes_the_event_types_and_source_and_is_audited(cli_env: Path) -> None:
    made = json.loads(runner.invoke(app, ["api-client", "create", "Billing Omie", "--scopes", "events:write",
                                          "--events", "*", "--format", "json"]).stdout)
    result = runner.invoke(app, ["api-client", "update", made["client_id"], "--events", "invoice.*,payment.*",
                                 "--source", "billing"])
    assert result.exit_code == 0, result.output
    [client] = json.loads(runner.invoke(app, ["api-client", "list", "--format", "json"]).stdout)["clients"]
    assert (client["event_types"], client["event_source"]) == (["invoice.*", "payment.*"], "billing")
    audit = runner.invoke(app, ["audit", "--action", "api_client.update", "--format", "json"])
    assert json.loads(audit.stdout)["entries"][0]["details"]["event_source"] == "billing"


def test_a_revoked_client_leaves_the_default_list(cli_env: Path) -> None:
    made = json.loads(runner.invoke(app, ["api-client", "create", "erp", "--scopes", "admin",
                                          "--format", "json"]).stdout)
    assert runner.invoke(app, ["api-client", "revoke", made["client_id"]]).exit_code == 0
    assert json.loads(runner.invoke(app, ["api-client", "list", "--format", "json"]).stdout)["clients"] == []
    everything = json.loads(runner.invoke(app, ["api-client", "list", "--all", "--format", "json"]).stdout)
    assert everything["clients"][0]["revoked_at"] is not None
    assert runner.invoke(app, ["api-client", "revoke", "dc_unknown"]).exit_code == 1


def test_rotate_key_reencrypts_every_secret_and_old_keys_still_read(cli_env: Path, db_url: str) -> None:
    keys_file = cli_env / "var/secrets.keys"
    box = SecretBox(load_ring(SecretsSettings(keys_file=keys_file)))
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        put_secret(session, box, "google.refresh_token", "s3cr3t")
    result = runner.invoke(app, ["secrets", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 secret" in result.output
    rotated = SecretBox(load_ring(SecretsSettings(keys_file=keys_file)))
    assert rotated.key_id != box.key_id and len(rotated.ring) == 2
    with session_scope(engine) as session:
        assert get_secret(session, rotated, "google.refresh_token") == "s3cr3t"
        assert session.get(Secret, "google.refresh_token").key_id == rotated.key_id
    engine.dispose()


def test_update_and_revoke_take_a_unique_prefix_of_the_client_id_and_audit_the_whole_id(
        cli_env: Path) -> None:
    made = json.loads(runner.invoke(app, ["api-client", "create", "erp", "--scopes", "events:write",
                                          "--events", "*", "--format", "json"]).stdout)
    client_id = made["client_id"]
    result = runner.invoke(app, ["api-client", "update", client_id[:8], "--source", "erp2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{client_id} (erp): ")
    revoked = runner.invoke(app, ["api-client", "revoke", client_id[:8]])
    assert revoked.stdout.strip() == f"revoked {client_id} (erp)"
    audit = json.loads(runner.invoke(app, ["audit", "--action", "api_client.revoke",
                                           "--format", "json"]).stdout)
    assert audit["entries"][0]["entity_id"] == client_id


def test_a_client_prefix_shared_by_two_clients_is_refused_naming_both(cli_env: Path, db_url: str) -> None:
    import sqlalchemy as sa

    first, second = (json.loads(runner.invoke(app, ["api-client", "create", name, "--scopes", "admin",
                                                    "--format", "json"]).stdout)["client_id"]
                     for name in ("a", "b"))
    twin = first[:7] + "ffffffff"
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE api_clients SET key_prefix = :twin WHERE key_prefix = :second"),
                           {"twin": twin, "second": second})
    engine.dispose()
    result = runner.invoke(app, ["api-client", "revoke", first[:7]])
    assert result.exit_code == 1
    assert f"api_client '{first[:7]}' is ambiguous: it starts " in result.output
    assert first in result.output and twin in result.output
    result = runner.invoke(app, ["api-client", "revoke", "dc_"])
    assert result.exit_code == 1
    assert result.output.strip() == "api_client 'dc_' not found (an id prefix needs at least 4 characters)"
    listed = json.loads(runner.invoke(app, ["api-client", "list", "--format", "json"]).stdout)["clients"]
    assert len(listed) == 2  # nothing was revoked


def test_the_client_table_keeps_whole_ids_when_piped(cli_env: Path) -> None:
    events = ",".join(f"service_order.event_number_{n}" for n in range(8))
    made = json.loads(runner.invoke(app, ["api-client", "create", "a-client-with-a-long-name", "--scopes",
                                          "events:write,orders:read,orders:write,billing:read",
                                          "--events", events, "--format", "json"]).stdout)
    listed = runner.invoke(app, ["api-client", "list"]).stdout
    assert made["client_id"] in listed and "service_order.event_number_7" in listed
