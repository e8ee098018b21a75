"""Persistence: domain and integration records, sessions, migrations, named queries."""
