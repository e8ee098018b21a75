"""``api:`` in the config: where the API listens and how it protects itself.

Every field has a default, so an empty ``api:`` section (or none) serves a
fresh checkout: JWT keys are created under ``var/`` on first use, rate limits
count in memory, CORS is off.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.secrets import SecretsSettings

ENV_PREFIX = "DESPACHO_API__"
SECRETS_PREFIX = "DESPACHO_SECRETS__"


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str = Field("http://127.0.0.1:8000",
                            description="The address the outside world uses (webhook signatures, links)")
    jwt_keys: str = Field("", description="kid:secret items, newest first (the first signs); "
                                          "empty: jwt_keys_file")
    jwt_keys_file: Path = Field(Path("var/api/jwt.keys"), description="Created on first use")
    token_ttl: int = Field(900, ge=60, le=86400, description="Access token lifetime, seconds")
    issuer: str = "despacho"
    audience: str = "despacho-api"
    rate_limit: str = Field("1200/minute", description="Per API client")
    ip_rate_limit: str = Field("2400/minute", description="Per client IP, every route")
    token_rate_limit: str = Field("20/minute", description="POST /v1/token, per client IP")
    rate_limit_storage: str = Field("", description="redis://host:port/db or memory://; "
                                                    "empty: the broker's Redis when it has one, else memory")
    rate_limit_prefix: str = Field("despacho-rl", description="Key prefix of the counters in Redis")
    cors_origins: list[str] = Field(default_factory=list, description="Empty: CORS off")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_batch: int = Field(500, ge=1, le=10_000, description="Events per POST /v1/events")
    metrics_public: bool = Field(True, description="False: GET /metrics needs the metrics:read scope")
    audit_requests: bool = Field(True, description="Record every request in the audit log")
    trust_forwarded_for: bool = Field(False, description="Take the client IP from X-Forwarded-For "
                                                         "(only behind a proxy that sets it)")

    @field_validator("rate_limit", "ip_rate_limit", "token_rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        parse(value)  # raises ValueError: "10/minute", "100 per second", "5/2 seconds"
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # from the environment the list arrives as "https://a,https://b"
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


def api_settings(settings: Any, environ: Mapping[str, str] | None = None) -> ApiSettings:
    """The API settings of a loaded ``Settings``.

    Until ``engine.settings`` uses this model for ``api:``, its own three
    fields are taken from there and the rest from ``DESPACHO_API__*``
    variables (which ``load_api_config`` keeps away from ``load_settings``).
    """
    current = settings.api
    if isinstance(current, ApiSettings):
        return current
    values: dict[str, Any] = current.model_dump()
    for name, value in (environ or {}).items():
        if name.startswith(ENV_PREFIX):
            values[name.removeprefix(ENV_PREFIX).lower()] = value
    return ApiSettings.model_validate(values)


def split_environ(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(what ``load_settings`` may see, the ``DESPACHO_API__*``/``DESPACHO_SECRETS__*`` it does not know)."""
    from engine.settings import ApiSettings as EngineApiSettings
    from engine.settings import Settings

    known = {f"{ENV_PREFIX}{name.upper()}" for name in EngineApiSettings.model_fields}

    def ours(name: str) -> bool:
        if name.startswith(ENV_PREFIX):
            return EngineApiSettings is not ApiSettings and name not in known
        return name.startswith(SECRETS_PREFIX) and "secrets" not in Settings.model_fields

    return ({k: v for k, v in environ.items() if not ours(k)},
            {k: v for k, v in environ.items() if ours(k)})


def secrets_settings(settings: Any, environ: Mapping[str, str] | None = None) -> SecretsSettings:
    """``secrets:`` of a loaded ``Settings`` once it has one; meanwhile defaults + ``DESPACHO_SECRETS__*``."""
    current = getattr(settings, "secrets", None)
    if isinstance(current, SecretsSettings):
        return current
    values = {name.removeprefix(SECRETS_PREFIX).lower(): value for name, value in (environ or {}).items()
              if name.startswith(SECRETS_PREFIX)}
    return SecretsSettings.model_validate(values)
