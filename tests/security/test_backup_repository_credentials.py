"""A backup repository URL that carries credentials is refused, and the refusal does not repeat them.

S3 keys belong in the environment (``s3_access_key_env`` / ``s3_secret_key_env``): a URL is copied
into logs, ``ps`` output, error messages and support tickets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.settings import load_settings

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("repository", [
    f"s3:http://AKIAEXAMPLE:{SECRET}@127.0.0.1:9000/despacho-backups/acme",
    f"s3:https://AKIAEXAMPLE:{SECRET}@s3.amazonaws.com/despacho-backups",
    f"rest:https://backup:{SECRET}@backups.example.com:8000/acme",
])
def test_a_repository_url_with_credentials_is_refused_without_echoing_them(
        repository: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("DESPACHO_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "config.yaml"
    config.write_text("connectors:\n  backup:\n    transport: restic\n"
                      f"    repository: '{repository}'\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings(str(config))

    shown = "\n".join(f"{p.path}: {p.message} {p.hint or ''}" for p in caught.value.problems)
    assert "credentials" in shown and "connectors.backup.repository" in shown
    assert SECRET not in shown
