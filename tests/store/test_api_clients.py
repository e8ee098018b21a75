"""API clients: the event types they may send and the source their events carry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.scopes import SCOPES
from store.api_clients import create_client, set_event_permissions, source_from_name
from store.db import session_scope
from store.errors import ValidationFailed


@pytest.mark.parametrize(("name", "source"), [("erp", "erp"), ("ERP Omie", "erp-omie"),
                                              ("Cobrança Ágil", "cobranca-agil"), ("Scheduler", "api"),
                                              ("!!!", "api"), ("rule", "api")])
def test_a_clients_default_source_is_its_name_as_a_slug_never_a_reserved_one(name: str, source: str) -> None:
    assert source_from_name(name) == source


def test_a_new_client_may_send_no_event_until_given_types(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        made = create_client(session, "erp", ["events:write"], known_scopes=SCOPES)
        assert (made.client.event_types, made.client.event_source) == ([], "erp")


@pytest.mark.parametrize("patterns", [["Service_Order.*"], ["a b"], [""], ["invoice.?"]])
def test_a_malformed_event_type_pattern_is_refused_naming_the_field(engine: sa.Engine,
                                                                   patterns: list[str]) -> None:
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match=r"api_client\.event_types"):
        create_client(session, "erp", ["events:write"], known_scopes=SCOPES, event_types=patterns)


@pytest.mark.parametrize("source", ["despacho", "scheduler", "twilio", "cli", "Bad Source", "rule:x"])
def test_a_reserved_or_malformed_source_is_refused_naming_the_field(engine: sa.Engine, source: str) -> None:
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match=r"api_client\.event_source"):
        create_client(session, "erp", ["events:write"], known_scopes=SCOPES, event_types=["*"],
                      event_source=source)


def test_set_event_permissions_changes_only_what_is_given(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        client_id = create_client(session, "erp", ["events:write"], known_scopes=SCOPES,
                                  event_types=["*"]).client.key_prefix
    with session_scope(engine) as session:
        client = set_event_permissions(session, client_id, event_types=["invoice.*", "invoice.*"])
        assert (client.event_types, client.event_source) == (["invoice.*"], "erp")
        client = set_event_permissions(session, client_id, event_source="billing")
        assert (client.event_types, client.event_source) == (["invoice.*"], "billing")
