"""Walking JSON Schemas along data paths: the real catalogue schemas and hostile ones."""

from __future__ import annotations

from engine.language.catalogue import domain_schema
from engine.language.datapaths import PathGap, find_gap
from store.event_payloads import DOMAIN_EVENTS

ASSIGNED = domain_schema(DOMAIN_EVENTS["service_order.assigned"])
PAID = domain_schema(DOMAIN_EVENTS["invoice.paid"])


def test_paths_the_payload_has_are_found_through_refs_and_nullable_records() -> None:
    for path in (("order", "id"), ("technician", "google_calendar_id"), ("customer", "opt_outs", "0"),
                 ("previous_technician_id",)):
        assert find_gap([ASSIGNED], path) is None, path


def test_a_missing_field_names_its_depth_and_the_fields_that_are_there() -> None:
    gap = find_gap([ASSIGNED], ("technician", "nome"))
    assert gap is not None and gap.depth == 1 and "name" in gap.known


def test_reading_into_a_string_says_it_is_a_string() -> None:
    assert find_gap([ASSIGNED], ("order", "id", "x")) == PathGap(2, (), "string")


def test_a_union_of_events_accepts_a_path_any_of_them_has() -> None:
    assert find_gap([ASSIGNED, PAID], ("payment", "amount")) is None
    assert find_gap([ASSIGNED], ("payment", "amount")) is not None


def test_open_objects_and_additional_properties_accept_anything() -> None:
    assert find_gap([{"type": "object"}], ("a", "b")) is None
    assert find_gap([PAID], ("invoice", "external_ids", "omie")) is None  # dict[str, Any]
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    closed = {"type": "object", "properties": {"a": strings}}
    assert find_gap([closed], ("a", "anything")) is None
    assert find_gap([closed], ("a", "anything", "deeper")) == PathGap(2, (), "string")
    assert find_gap([closed], ("b",)) == PathGap(0, ("a",))


def test_a_ref_cycle_ends_the_walk_as_open() -> None:
    looping = {"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}},
               "type": "object", "properties": {"x": {"$ref": "#/$defs/A"}}}
    assert find_gap([looping], ("x", "y", "z")) is None


def test_remote_refs_are_not_fetched_and_read_as_open() -> None:
    remote = {"type": "object", "properties": {"x": {"$ref": "https://example.com/schema.json"}}}
    assert find_gap([remote], ("x", "y")) is None
