"""The API's own fixtures (a migrated database, the real app, tokens with scopes) for attack replays."""

from tests.api.conftest import (  # noqa: F401  (fixtures are found by name)
    api_config,
    app,
    auth,
    client,
    db_engine,
    db_url,
    make_client,
    settings,
    token_for,
)
