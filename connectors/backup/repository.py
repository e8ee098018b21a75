"""Opening the configured repository: its password from the environment or the secrets store."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from connectors.backup.errors import RepositoryUnavailable
from connectors.backup.restic import Restic
from connectors.backup.settings import BackupSettings

SecretLookup = Callable[[str], str]


def repository_password(settings: BackupSettings, *, secret: SecretLookup | None = None,
                        environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if settings.password_env and env.get(settings.password_env):
        return env[settings.password_env]
    if settings.password_secret and secret is not None:
        value = secret(settings.password_secret)
        if value:
            return value
    places = []
    if settings.password_env:
        places.append(f"export {settings.password_env}=...")
    if settings.password_secret:
        places.append(f"store the secret '{settings.password_secret}'")
    raise RepositoryUnavailable("no password for the backup repository: " + " or ".join(places))


def open_repository(settings: BackupSettings, *, secret: SecretLookup | None = None,
                    environ: Mapping[str, str] | None = None) -> Restic:
    """The ``Restic`` of the configured repository; S3 keys passed from their variables when set."""
    env = os.environ if environ is None else environ
    extra: dict[str, str] = {}
    if settings.is_s3:
        for target, source in (("AWS_ACCESS_KEY_ID", settings.s3_access_key_env),
                               ("AWS_SECRET_ACCESS_KEY", settings.s3_secret_key_env)):
            if env.get(source):
                extra[target] = env[source]
        if settings.s3_region:
            extra["AWS_DEFAULT_REGION"] = settings.s3_region
    return Restic(settings.repository, repository_password(settings, secret=secret, environ=env),
                  env=extra, binary=settings.restic_binary)
