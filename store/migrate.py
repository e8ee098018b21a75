"""Running the migrations: ``despacho db upgrade|downgrade|current|history`` call these.

The alembic configuration is built in code from the package's own folder,
so an installed (or editable) despacho migrates without an ``alembic.ini``.
"""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.db import make_engine, normalize_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str, output: io.StringIO | None = None) -> Config:
    config = Config(stdout=output) if output is not None else Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # the URL travels as an attribute: set_main_option would read any '%' in
    # a password as configparser interpolation
    config.attributes["url"] = normalize_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate; the one place a missing SQLite database is created (``store.db.make_engine``)."""
    config = alembic_config(url)
    config.attributes["create"] = True
    command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The database's revision, or ``None`` when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def history_lines() -> list[str]:
    """Newest first: ``<rev> <- <down>  <message>``."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [f"{rev.revision} <- {rev.down_revision or '(base)'}  {rev.doc}"
            for rev in script.walk_revisions()]


def autogenerate(url: str, message: str) -> None:
    """For developers: write a new revision from the models' difference to ``url``."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def is_empty(url: str) -> bool:
    engine = make_engine(url)
    try:
        return not sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
