"""Alembic environment and revisions; driven by ``store.migrate``, no alembic.ini needed."""
