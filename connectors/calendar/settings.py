"""``connectors.calendar`` in the config: where Google is, how despacho signs in, how sync behaves."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from connectors.base import ConnectorSettings

ConflictPolicy = Literal["despacho_wins", "google_wins", "newest_wins"]


class CalendarSettings(ConnectorSettings):
    transport: Literal["google", "file"] = Field(
        "file", description="google: the Calendar API; file: write each call to the outbox folder")
    api_url: str = Field("https://www.googleapis.com/",
                         description="Calendar API root (tests point it at a local server)")
    token_uri: str = Field("https://oauth2.googleapis.com/token", description="OAuth2 token endpoint")
    client_secrets_file: Path | None = Field(
        None, description="OAuth client (Desktop app) JSON from the Google Cloud console, for "
                          "'despacho calendar connect'")
    service_account_key_file: Path | None = Field(
        None, description="Service account key JSON (Workspace, domain-wide delegation); the account "
                          "acts as each technician's e-mail")
    calendar_time_zone: str | None = Field(
        None, description="Time zone of created events when the action gives none; default: the "
                          "technician's time_zone, else the configured time zone")
    requests_per_second: float = Field(
        5.0, gt=0, le=100, description="Requests per calendar per second, shared by every worker (Redis)")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for each Google request")
    conflict_policy: ConflictPolicy = Field(
        "despacho_wins", description="When an appointment changed on both sides since the last sync")
    sync_every: str = Field("15m", description="Safety-net incremental sync of every watched calendar")
    channel_ttl: str = Field("7d", description="Lifetime asked for each push channel (Google caps it)")
    renew_before: str = Field("1d", description="Renew a push channel this long before it expires")

    @field_validator("client_secrets_file", "service_account_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # ``${GOOGLE_CLIENT_SECRETS_FILE:-}`` in the example config expands to "" when unset
        return None if isinstance(value, str) and not value.strip() else value
