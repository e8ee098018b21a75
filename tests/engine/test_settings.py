from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.settings import find_config_file, load_settings
from tests.conftest import write


def test_defaults_without_any_file(project: Path) -> None:
    settings = load_settings(environ={})
    assert settings.timezone == "America/Sao_Paulo"
    assert settings.database.url.startswith("sqlite:///")


def test_config_yaml_wins_over_the_example(project: Path) -> None:
    write(project / "config.example.yaml", "timezone: UTC\n")
    assert find_config_file(None, {}) == Path("config.example.yaml")
    write(project / "config.yaml", "timezone: America/Manaus\n")
    assert load_settings(environ={}).timezone == "America/Manaus"


def test_explicit_file_and_despacho_config_variable(project: Path) -> None:
    write(project / "a.yaml", "timezone: America/Recife\n")
    write(project / "b.yaml", "timezone: America/Belem\n")
    assert load_settings("a.yaml", environ={"DESPACHO_CONFIG": "b.yaml"}).timezone == "America/Recife"
    assert load_settings(None, environ={"DESPACHO_CONFIG": "b.yaml"}).timezone == "America/Belem"


def test_missing_explicit_file_is_an_error(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("nope.yaml", environ={})
    assert caught.value.problems[0].message == "config file not found"


def test_variables_are_expanded_with_defaults(project: Path) -> None:
    write(project / "c.yaml", "database:\n  url: ${DB_URL}\nbroker:\n  url: ${BROKER:-redis://x:6379/0}\n")
    settings = load_settings("c.yaml", environ={"DB_URL": "postgresql://db/app"})
    assert settings.database.url == "postgresql://db/app"
    assert settings.broker.url == "redis://x:6379/0"


def test_missing_variable_names_the_variable_and_the_line(project: Path) -> None:
    write(project / "c.yaml", "timezone: UTC\nconnectors:\n  sms:\n    auth_token: ${TWILIO_TOKEN}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("c.yaml", 4, "connectors.sms.auth_token")
    assert problem.message == "environment variable 'TWILIO_TOKEN' is not set"


def test_environment_overrides_win_over_the_file(project: Path) -> None:
    write(project / "c.yaml", "database:\n  url: sqlite:///a.db\nconnectors:\n  sms:\n    transport: file\n")
    settings = load_settings("c.yaml", environ={
        "DESPACHO_DATABASE__URL": "postgresql://prod/app",
        "DESPACHO_CONNECTORS__SMS__TRANSPORT": "twilio",
        "DESPACHO_API__PORT": "9000",
    })
    assert settings.database.url == "postgresql://prod/app"
    assert settings.connectors.sms.transport == "twilio"
    assert settings.api.port == 9000


def test_invalid_values_name_file_line_and_field(project: Path) -> None:
    write(project / "c.yaml", "timezone: Mars/Olympus\napi:\n  port: 99999\n  hots: x\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    lines = [(p.line, p.path, p.message) for p in caught.value.problems]
    assert lines[0][:2] == (1, "timezone") and "unknown time zone 'Mars/Olympus'" in lines[0][2]
    assert lines[1][:2] == (3, "api.port")
    assert lines[2] == (4, "api.hots", "unknown key 'hots'")


def test_secrets_are_not_in_the_public_view(project: Path) -> None:
    write(project / "c.yaml", "connectors:\n  email:\n    password: hunter2\n")
    settings = load_settings("c.yaml", environ={})
    assert "hunter2" not in repr(settings.public_view())
    assert "hunter2" not in repr(settings)


def test_message_safety_settings_have_safe_defaults(project: Path) -> None:
    settings = load_settings(environ={})
    assert settings.connectors.email.attachments_dir == Path("var/attachments")
    for channel in (settings.connectors.sms, settings.connectors.whatsapp):
        assert (channel.allowed_countries, channel.allow_premium_numbers, channel.allow_short_codes) == \
            (["BR"], False, False)


def test_an_unknown_destination_country_names_file_line_and_field(project: Path) -> None:
    write(project / "c.yaml", "connectors:\n  sms:\n    allowed_countries: [BR, XX]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (3, "connectors.sms.allowed_countries")
    assert "unknown country code 'XX'" in problem.message


def test_a_sender_with_two_addresses_names_file_line_and_field(project: Path) -> None:
    write(project / "c.yaml", "connectors:\n  email:\n    from: 'a@example.com, b@example.com'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (3, "connectors.email.from")
    assert "is 2 addresses, not one" in problem.message


def test_trusted_proxies_come_from_the_environment_as_a_comma_list(project: Path) -> None:
    settings = load_settings(None, environ={"DESPACHO_API__TRUSTED_PROXIES": "10.0.0.2, fd00::/8"})
    assert settings.api.trusted_proxies == ["10.0.0.2", "fd00::/8"]


def test_a_trusted_proxy_that_is_no_address_is_a_located_problem(project: Path) -> None:
    write(project / "c.yaml", "api:\n  trusted_proxies: [10.0.0.0/8, proxy.local]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (2, "api.trusted_proxies")
    assert "proxy.local" in problem.message


def test_the_retired_trust_forwarded_for_says_what_replaces_it(project: Path) -> None:
    write(project / "c.yaml", "api:\n  trust_forwarded_for: true\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert "api.trusted_proxies" in problem.message


def test_a_rabbitmq_broker_without_a_coordination_redis_names_the_missing_setting(project: Path) -> None:
    write(project / "c.yaml", "timezone: UTC\nbroker:\n  url: amqp://guest:guest@mq:5672/despacho\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (3, "broker")
    assert "broker.coordination_url is required with an amqp:// broker" in problem.message


def test_a_rabbitmq_broker_coordinates_through_its_redis(project: Path) -> None:
    write(project / "c.yaml", "broker:\n  url: amqps://u:p@mq:5671/despacho\n"
                              "  coordination_url: redis://cache:6379/2\n")
    broker = load_settings("c.yaml", environ={}).broker
    assert broker.coordination() == "redis://cache:6379/2"


def test_a_redis_broker_is_its_own_coordination_store_and_the_embedded_one_has_none(project: Path) -> None:
    write(project / "c.yaml", "broker:\n  url: redis://cache:6379/0\n")
    assert load_settings("c.yaml", environ={}).broker.coordination() == "redis://cache:6379/0"
    write(project / "d.yaml", "timezone: UTC\n")
    assert load_settings("d.yaml", environ={}).broker.coordination() is None


def test_an_unknown_broker_scheme_or_a_coordination_store_that_is_not_redis_is_refused(project: Path) -> None:
    write(project / "c.yaml", "broker:\n  url: kafka://k:9092\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("c.yaml", environ={})
    (problem,) = caught.value.problems
    assert problem.path == "broker.url" and "amqp://user:password@host:5672/vhost" in problem.message
    write(project / "d.yaml", "broker:\n  url: amqp://mq/\n  coordination_url: postgresql://db/app\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("d.yaml", environ={})
    (problem,) = caught.value.problems
    assert problem.path == "broker.coordination_url" and "must be a Redis URL" in problem.message
