"""The event catalogue: domain types, rule-declared and rule-emitted types, patterns, generated files."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.language.catalogue as catalogue
from engine.language.catalogue import (
    Catalogue,
    bundle_is_stale,
    domain_schema,
    domain_types,
    event_schema_files,
    render_events_doc,
    stale_event_schemas,
    write_bundle,
)
from engine.language.custom_events import build_catalogue
from engine.language.yamlsafe import load_text
from store.event_payloads import DOMAIN_EVENTS

REPO = Path(__file__).resolve().parents[3]


def test_committed_event_schemas_and_page_are_current() -> None:
    assert stale_event_schemas(REPO / "schemas") == []
    assert (REPO / "docs/events.md").read_text(encoding="utf-8") == render_events_doc()


def test_the_bundled_schemas_are_current_and_are_what_validate_reads() -> None:
    assert not bundle_is_stale()
    assert {t.type: t.schema for t in domain_types()} == {
        spec.event_type: domain_schema(spec) for spec in DOMAIN_EVENTS.values()}


def test_a_bundle_written_then_changed_is_stale(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    assert bundle_is_stale(bundle)
    write_bundle(bundle)
    assert not bundle_is_stale(bundle)
    changed = bundle.read_text(encoding="utf-8").replace('"string"', '"integer"', 1)
    bundle.write_text(changed, encoding="utf-8")
    assert bundle_is_stale(bundle)


@pytest.mark.parametrize("content", [None, "{not json", "[]", '{"service_order.created": 5}'])
def test_without_a_usable_bundle_each_schema_is_built_from_its_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None) -> None:
    bundle = tmp_path / "bundle.json"
    if content is not None:
        bundle.write_text(content, encoding="utf-8")
    monkeypatch.setattr(catalogue, "BUNDLE", bundle)
    catalogue._bundled.cache_clear()
    catalogue.domain_types.cache_clear()
    try:
        assert {t.type: t.schema for t in domain_types()} == {
            spec.event_type: domain_schema(spec) for spec in DOMAIN_EVENTS.values()}
    finally:
        catalogue._bundled.cache_clear()
        catalogue.domain_types.cache_clear()


def test_every_domain_type_has_a_schema_file_and_a_section_in_the_page() -> None:
    page = render_events_doc()
    assert set(event_schema_files()) == {f"{t}.schema.json" for t in DOMAIN_EVENTS}
    assert all(f"## {t}\n" in page for t in DOMAIN_EVENTS)


def test_patterns_match_one_word_per_star() -> None:
    catalogue = Catalogue(domain_types())
    assert [e.type for e in catalogue.matching("invoice.*")] == ["invoice.issued", "invoice.overdue",
                                                                  "invoice.paid"]
    assert catalogue.matching("service_order.*.x") == []
    assert [e.type for e in catalogue.matching("*.completed")] == ["run.completed", "service_order.completed"]


def test_suggestions_come_from_types_sharing_a_word() -> None:
    catalogue = Catalogue(domain_types())
    assert catalogue.suggest("service_order.asigned") == "did you mean 'service_order.assigned'?"
    assert catalogue.suggest("invoce.overdue") == "did you mean 'invoice.overdue'?"
    assert catalogue.suggest("erp.thing") is None


def test_rule_files_declare_types_and_a_literal_emit_defines_one() -> None:
    doc = load_text("""
events:
  erp.customer_updated: {data: {type: object, properties: {customer: {type: object}}}}
rules:
  - id: a
    on: service_order.completed
    do:
      - log.write: {message: x}
        fallback:
          - event.emit: {type: survey.requested, data: {order_id: "{{ data.order.id }}"}}
      - event.emit: {type: "{{ data.kind }}.done"}
""", "r.yaml")
    catalogue, problems = build_catalogue([doc])
    assert problems == []
    assert catalogue.types["erp.customer_updated"].origin == "r.yaml:3"
    survey = catalogue.types["survey.requested"]
    assert survey.schema["properties"] == {"order_id": {}}
    assert survey.origin.startswith("event.emit in the rule at r.yaml:")
    assert not any(name.endswith(".done") for name in catalogue.types)  # templated: unknowable
