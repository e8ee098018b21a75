"""``connectors.backup`` in the config: where the restic repository is, its password, retention, checks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorSettings

_PERCENT_OR_SIZE = re.compile(r"^(\d{1,3}(\.\d+)?%|\d+(\.\d+)?[KMGT]?|\d+/\d+)$")


class BackupSettings(ConnectorSettings):
    """How despacho backs up its database, rules, templates and config (docs/connectors/backup.md)."""

    transport: Literal["restic", "file"] = Field(
        "restic", description="restic: snapshots in a restic repository; file: write each call to the "
                              "outbox folder (tests of rules only)")
    repository: str = Field(
        "var/backups/repository",
        description="A folder (relative to the working directory) or s3:http(s)://host/bucket/prefix")
    password_env: str | None = Field(
        "DESPACHO_BACKUP_PASSWORD", description="Environment variable holding the repository password")
    password_secret: str | None = Field(
        None, description="Name of the secret (secrets store) holding the password; used when the "
                          "environment variable is unset or empty")
    staging: str = Field(
        "var/backups/staging",
        description="Folder where dumps are written before restic reads them (same path every time, so "
                    "each snapshot is incremental to the last)")
    keep_daily: int = Field(7, ge=0, description="Daily snapshots kept by 'despacho backup forget'")
    keep_weekly: int = Field(4, ge=0, description="Weekly snapshots kept")
    keep_monthly: int = Field(12, ge=0, description="Monthly snapshots kept")
    read_data_subset: str = Field(
        "10%", description="Share of the repository's data read back by the weekly check (restic "
                           "--read-data-subset: 10%, 1/5, 500M)")
    check_every: str = Field("7d", description="How often the scheduler runs the deep check")
    max_age_hours: float = Field(
        26, gt=0, description="/ready is degraded and backup.missing is emitted when no backup "
                              "succeeded for this long")
    verify: bool = Field(True, description="After each backup: restic check and a test restore")
    wal_archive: str | None = Field(
        None, description="Folder receiving PostgreSQL WAL segments (archive_command), for restores "
                          "to a point in time")
    s3_access_key_env: str = Field("AWS_ACCESS_KEY_ID",
                                   description="Environment variable with the S3 access key id")
    s3_secret_key_env: str = Field("AWS_SECRET_ACCESS_KEY",
                                   description="Environment variable with the S3 secret key")
    s3_region: str | None = Field(None, description="S3 region (AWS_DEFAULT_REGION for restic)")
    restic_binary: str = Field("restic", description="The restic program (PATH is searched)")
    # point in time (PostgreSQL): connectors/backup/pitr.py
    postgres_bin: str | None = Field(
        None, description="Folder of the PostgreSQL server programs (pg_basebackup, pg_ctl) used for "
                          "base backups and restores to a time; default: /usr/lib/postgresql/<major>/bin")
    full_every: str = Field(
        "7d", description="With wal_archive (PostgreSQL): 'backup run' takes a full backup (logical dump + "
                          "base backup) when the newest full one is older than this, else an incremental "
                          "one (the WAL since). Set 1d to keep a logical dump every day")
    wal_wait_seconds: float = Field(
        300, gt=0, description="How long an incremental backup waits for the server to archive the WAL "
                               "segment it closed")
    pitr_run_as: str = Field(
        "postgres", description="OS user that runs the temporary recovery cluster when despacho runs as "
                                "root (PostgreSQL refuses root)")

    @field_validator("password_env", "password_secret", "wal_archive", "s3_region", "postgres_bin",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("repository")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the repository is empty: give a folder or s3:http(s)://host/bucket/prefix")
        if value.startswith("s3:") and re.match(r"^s3:(https?://)?[^/]*@", value):
            raise ValueError("the repository URL holds credentials: put the S3 keys in the environment "
                             "(s3_access_key_env / s3_secret_key_env) instead")
        if re.match(r"^[a-z0-9]+:[a-z]+://[^/@]*:[^/@]*@", value):  # rest:https://user:password@host/
            raise ValueError("the repository URL holds credentials (user:password@): a URL ends up in logs "
                             "and process lists; remove them and give them through the environment")
        if re.match(r"^[a-z0-9]+:", value) and not value.startswith(("s3:", "sftp:", "rest:", "b2:",
                                                                         "azure:", "gs:", "swift:")):
            raise ValueError(f"unknown repository kind '{value.split(':', 1)[0]}': give a folder or "
                             "s3:http(s)://host/bucket/prefix")
        return value

    @field_validator("full_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        from store.durations import parse_duration

        parse_duration(value)  # its ValueError names the accepted form
        return value.strip()

    @field_validator("read_data_subset")
    @classmethod
    def _subset(cls, value: str) -> str:
        if not _PERCENT_OR_SIZE.fullmatch(value.strip()):
            raise ValueError(f"read_data_subset '{value}' is not n%, n/m or a size (500M)")
        return value.strip()

    @model_validator(mode="after")
    def _some_password(self) -> BackupSettings:
        if self.transport == "restic" and not (self.password_env or self.password_secret):
            raise ValueError("give password_env or password_secret: the repository is encrypted")
        return self

    @property
    def full_every_delta(self) -> timedelta:
        from store.durations import parse_duration

        return parse_duration(self.full_every)

    @property
    def is_s3(self) -> bool:
        return self.repository.startswith("s3:")
