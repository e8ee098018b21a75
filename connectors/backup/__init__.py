"""Backups of the database, rules, templates and config into a restic repository."""

from connectors.backup.connector import BackupConnector
from connectors.backup.errors import BackupCorrupted, BackupError, RepositoryUnavailable
from connectors.backup.restic import Restic, Snapshot
from connectors.backup.settings import BackupSettings

__all__ = ["BackupConnector", "BackupCorrupted", "BackupError", "BackupSettings", "RepositoryUnavailable",
           "Restic", "Snapshot"]
