"""The API's settings: the ``api:`` and ``secrets:`` sections of the config.

The models live with the rest of the configuration in ``engine.settings``;
these helpers keep the API's call sites short.
"""

from __future__ import annotations

from engine.settings import ApiSettings, Settings
from store.secrets import SecretsSettings

__all__ = ["ApiSettings", "api_settings", "secrets_settings"]


def api_settings(settings: Settings) -> ApiSettings:
    return settings.api


def secrets_settings(settings: Settings) -> SecretsSettings:
    return settings.secrets
