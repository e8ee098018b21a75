"""Settings: the config file, ``${VAR}`` references and ``DESPACHO_*`` overrides.

Order of precedence, strongest first: ``DESPACHO_<SECTION>__<KEY>`` variables,
then the config file (``--config``, else ``DESPACHO_CONFIG``, else
``./config.yaml`` when present, else ``config.example.yaml``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.accounting.settings import AccountingSettings
from connectors.backup.settings import BackupSettings
from connectors.calendar.settings import CalendarSettings
from connectors.email import EmailSettings
from connectors.http import HttpSettings
from connectors.messaging.twilio import TwilioSettings
from engine.errors import ConfigError
from engine.language.problems import Problem
from engine.language.validation import problems_from_validation_error
from engine.language.yamlsafe import Document, YamlInputError, load_file
from store.privacy.settings import PrivacySettings
from store.secrets import SecretsSettings

ENV_PREFIX = "DESPACHO_"
DEFAULT_CONFIG_FILES = ("config.yaml", "config.example.yaml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PathsSettings(Section):
    path: FsPath


class DatabaseSettings(Section):
    url: str = "sqlite:///var/despacho.db"


REDIS_SCHEMES = ("redis://", "rediss://")
AMQP_SCHEMES = ("amqp://", "amqps://")


class BrokerSettings(Section):
    """Where steps are queued, and the Redis that coordinates several processes.

    RabbitMQ queues messages but holds no locks or counters: with an ``amqp://`` broker the
    scheduler's leader lease, the shared throttles and the API's rate limits need a Redis of their
    own (``coordination_url``). A Redis broker is its own coordination store.
    """

    url: str = Field("stub://", description="stub:// (in-process), redis://host:port/db or "
                                            "amqp://user:password@host:5672/vhost (RabbitMQ)")
    namespace: str = Field("despacho", description="Prefix of every Redis key (queues, locks, throttles); "
                                                   "with RabbitMQ the vhost separates the queues")
    coordination_url: str = Field("", description="redis://host:port/db for the scheduler's leader lease, "
                                                  "shared throttles and rate limits; required with an "
                                                  "amqp:// broker, empty: the broker's Redis")

    @field_validator("url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if not value.startswith(("stub://", *REDIS_SCHEMES, *AMQP_SCHEMES)):
            raise ValueError(f"unsupported broker URL '{value.split('@')[-1]}': use stub://, "
                             "redis://host:port/db or amqp://user:password@host:5672/vhost")
        return value

    @field_validator("coordination_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if value and not value.startswith(REDIS_SCHEMES):
            raise ValueError("broker.coordination_url must be a Redis URL (redis://host:port/db)")
        return value

    @model_validator(mode="after")
    def _coordination_for_rabbitmq(self) -> BrokerSettings:
        if self.url.startswith(AMQP_SCHEMES) and not self.coordination_url:
            raise ValueError("broker.coordination_url is required with an amqp:// broker: RabbitMQ holds "
                             "no locks, so the scheduler's leader lease and the shared throttles need a "
                             "Redis (set broker.coordination_url: redis://host:port/db)")
        return self

    def coordination(self) -> str | None:
        """The Redis shared by every process, or None when there is none (the embedded broker)."""
        if self.coordination_url:
            return self.coordination_url
        return self.url if self.url.startswith(REDIS_SCHEMES) else None


class ApiSettings(Section):
    """Where the API listens and how it protects itself; every field has a default."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str = Field("http://127.0.0.1:8000",
                            description="The address the outside world uses (webhook signatures, links)")
    jwt_keys: str = Field("", description="kid:secret items, newest first (the first signs); "
                                          "empty: jwt_keys_file")
    jwt_keys_file: FsPath = Field(FsPath("var/api/jwt.keys"), description="Created on first use")
    token_ttl: int = Field(900, ge=60, le=86400, description="Access token lifetime, seconds")
    issuer: str = "despacho"
    audience: str = "despacho-api"
    rate_limit: str = Field("1200/minute", description="Per API client")
    ip_rate_limit: str = Field("2400/minute", description="Per client IP, every route")
    token_rate_limit: str = Field("20/minute", description="POST /v1/token, per client IP")
    token_failure_limit: str = Field("5/minute", description="Failed POST /v1/token attempts per (client id, "
                                     "client IP); past it that pair gets 429, other IPs still get tokens")
    rate_limit_storage: str = Field("", description="redis://host:port/db or memory://; "
                                                    "empty: the coordination Redis (broker.coordination_url, "
                                                    "else a Redis broker) when there is one, else memory")
    rate_limit_prefix: str = Field("despacho-rl", description="Key prefix of the counters in Redis")
    cors_origins: list[str] = Field(default_factory=list, description="Empty: CORS off")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_batch: int = Field(500, ge=1, le=10_000, description="Events per POST /v1/events")
    event_clock_skew: int = Field(300, ge=0, le=3600,
                                  description="Seconds an event's `at` may lie in the future (clocks "
                                              "differ); later times are refused")
    metrics_public: bool = Field(True, description="False: GET /metrics needs the metrics:read scope")
    audit_requests: bool = Field(True, description="Record every request in the audit log")
    trusted_proxies: list[str] = Field(default_factory=list, description=(
        "Addresses or networks of the reverse proxies in front of the API; X-Forwarded-For is read "
        "only from them. Empty: the client IP is the socket peer"))

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, value: Any) -> Any:
        if isinstance(value, dict) and "trust_forwarded_for" in value:
            raise ValueError("api.trust_forwarded_for is gone: it believed X-Forwarded-For from anyone; "
                             "list your proxies in api.trusted_proxies instead")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("rate_limit", "ip_rate_limit", "token_rate_limit", "token_failure_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        from limits import parse as parse_rate_limit  # loaded only when a limit is configured

        parse_rate_limit(value)  # raises ValueError: "10/minute", "100 per second", "5/2 seconds"
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # from the environment the list arrives as "https://a,https://b"
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


class CompanySettings(Section):
    """Non-secret facts about the company that templates may show."""

    name: str = "Empresa"
    phone: str = ""
    email: str = ""
    website: str = ""


class ExecutionSettings(Section):
    """How steps run: worker threads, polling, and when stuck work is taken back."""

    worker_threads: int = Field(8, ge=1, le=256)
    poll_interval: float = Field(0.05, gt=0, le=10, description="Seconds between relay polls when idle")
    lease: float = Field(5, gt=0, le=3600, description="Seconds a running step's lease lasts; a worker "
                         "renews it while the call runs, and when it lapses (the worker died) the reaper "
                         "queues the step again")
    heartbeat: float = Field(1, gt=0, le=600, description="Seconds between lease renewals (well under lease)")
    queued_timeout: float = Field(30, gt=0, description="Seconds before a due queued step is sent again")
    reap_interval: float = Field(1, gt=0, description="Seconds between reaper passes")
    shutdown_timeout: float = Field(30, gt=0, description="Seconds in-flight steps get to finish on stop")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port where each 'despacho worker' process serves its Prometheus "
        "metrics (/metrics); with --processes N they take this port and the N-1 after it. None: not served "
        "(the API's /metrics has them for 'despacho run')")
    metrics_address: str = Field("127.0.0.1", description="Address the worker metrics listen on")
    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "running_timeout" in data:
            raise ValueError("running_timeout was replaced by lease (seconds a running step's lease lasts "
                             "without a heartbeat, default 5) and heartbeat (default 1)")
        return data

    @model_validator(mode="after")
    def _heartbeat_under_lease(self) -> ExecutionSettings:
        if self.heartbeat * 2 > self.lease:
            raise ValueError(f"heartbeat ({self.heartbeat:g} s) must be at most half of lease "
                             f"({self.lease:g} s), or leases lapse while workers are alive")
        return self


class SchedulerSettings(Section):
    """Which daemon fires the schedules when several run: a Redis lock with a lease."""

    leader_lease: float = Field(10, ge=0.5, le=300,
                                description="Seconds the leader holds the scheduler lock without renewing "
                                            "it (renewed every third); a dead leader is replaced within "
                                            "about 1.3 times this")


class ConnectorsSettings(Section):
    """One section per connector; each connector module declares its own settings model."""

    email: EmailSettings = Field(default_factory=EmailSettings)
    sms: TwilioSettings = Field(default_factory=TwilioSettings)
    whatsapp: TwilioSettings = Field(default_factory=TwilioSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    accounting: AccountingSettings = Field(default_factory=AccountingSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)


class Settings(Section):
    """Everything despacho reads from its config file."""

    rules: PathsSettings = Field(default_factory=lambda: PathsSettings(path=FsPath("rules")))
    templates: PathsSettings = Field(default_factory=lambda: PathsSettings(path=FsPath("templates")))
    outbox: PathsSettings = Field(default_factory=lambda: PathsSettings(path=FsPath("var/outbox")))
    timezone: str = "America/Sao_Paulo"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    company: CompanySettings = Field(default_factory=CompanySettings)
    connectors: ConnectorsSettings = Field(default_factory=ConnectorsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    _config_file: FsPath | None = PrivateAttr(default=None)  # set by load_settings

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from engine.language.timezones import check_timezone

        return check_timezone(value)

    @property
    def config_file(self) -> FsPath | None:
        """The file these settings were read from (absolute); None when none was found (defaults)."""
        return self._config_file

    def public_view(self) -> dict[str, Any]:
        """What rules may see as ``config``: no secrets, no credentials."""
        return {"timezone": self.timezone, "company": self.company.model_dump()}


def find_config_file(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> FsPath:
    """The config file to read, following the documented order."""
    env = os.environ if environ is None else environ
    chosen = explicit or env.get("DESPACHO_CONFIG")
    if chosen:
        return FsPath(chosen)
    for name in DEFAULT_CONFIG_FILES:
        if FsPath(name).is_file():
            return FsPath(name)
    return FsPath(DEFAULT_CONFIG_FILES[-1])


def load_settings(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, expand and validate the settings; raises ``ConfigError`` with every problem."""
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(explicit, env)
    if not path.exists():
        if explicit or env.get("DESPACHO_CONFIG"):
            raise ConfigError([Problem(str(path), message="config file not found")])
        doc = Document(str(path), {})
    else:
        try:
            doc = load_file(path)
        except YamlInputError as exc:
            raise ConfigError(exc.problems) from exc
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([doc.problem((), "the config file must be a mapping of sections")])
    problems: list[Problem] = []
    data = _expand(data, (), doc, env, problems)
    _apply_env_overrides(data, env)
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(exc, doc)) from exc
    settings._config_file = path.resolve() if path.is_file() else None
    return settings


def _expand(value: Any, path: tuple[str | int, ...], doc: Document, env: Mapping[str, str],
            problems: list[Problem]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*path, k), doc, env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), doc, env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(doc.problem(path, f"environment variable '{name}' is not set",
                                    f"export {name}=... or write ${{{name}:-default}}"))
        return ""

    return _VAR.sub(replace, value)


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``DESPACHO_CONNECTORS__SMS__TRANSPORT=twilio`` sets connectors.sms.transport."""
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name.removeprefix(ENV_PREFIX).split("__") if k]
        target = data
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = env[name]
