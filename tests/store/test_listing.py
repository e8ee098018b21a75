"""Cursor pagination: stable pages, both directions, filters, and refused cursors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import Session

from store.errors import ValidationFailed
from store.listing import ListSpec, encode_cursor, list_page
from store.models import Customer

SPEC = ListSpec(Customer, ("created_at", "name"), ("tier",), "name", (Customer.deleted_at.is_(None),))


def all_pages(session: Session, sort: str, limit: int) -> list[str]:
    names, cursor = [], None
    while True:
        page = list_page(session, SPEC, sort=sort, limit=limit, cursor=cursor)
        names += [c.name for c in page.items]
        if page.next_cursor is None:
            return names
        cursor = page.next_cursor


def test_pages_cover_every_row_once_in_both_directions(session: Session,
                                                       make_customer: Callable[..., Customer]) -> None:
    for name in ("C", "A", "B", "E", "D"):
        make_customer(name=name)
    assert all_pages(session, "name", 2) == ["A", "B", "C", "D", "E"]
    assert all_pages(session, "-name", 2) == ["E", "D", "C", "B", "A"]
    assert len(all_pages(session, "-created_at", 1)) == 5


def test_equal_sort_values_are_ordered_by_id(session: Session,
                                            make_customer: Callable[..., Customer]) -> None:
    ids = sorted(make_customer(name="Same").id for _ in range(4))
    found, cursor = [], None
    for _ in range(4):
        page = list_page(session, SPEC, sort="name", limit=1, cursor=cursor)
        found += [c.id for c in page.items]
        cursor = page.next_cursor
    assert found == ids


def test_a_cursor_from_another_sort_is_refused(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="belongs to sort 'name'"):
        list_page(session, SPEC, sort="-created_at", cursor=encode_cursor("name", "A", "x"))


def test_unknown_sort_and_filter_fields_are_refused(session: Session) -> None:
    with pytest.raises(ValidationFailed) as caught:
        list_page(session, SPEC, sort="phone")
    assert caught.value.field == "sort"
    with pytest.raises(ValidationFailed):
        list_page(session, SPEC, filters={"phone": "x"})
