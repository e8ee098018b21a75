"""What conditions and templates read under data and steps."""

from __future__ import annotations

import pytest

from engine.language.references import cel_paths, template_paths


@pytest.mark.parametrize(("expression", "paths"), [
    ("data.customer.phone != null", [("data", "customer", "phone")]),
    ('has(data.calendar_link) && "x" in data.customer.opt_outs',
     [("data", "calendar_link"), ("data", "customer", "opt_outs")]),
    ("data.customer.opt_outs.size() > 0", [("data", "customer", "opt_outs")]),  # size is a method
    ('data.order.status == "data.not.a.path"', [("data", "order", "status")]),  # strings are not read
    ("steps.assign.technician_id != ''", [("steps", "assign", "technician_id")]),
    ("data.items.exists(i, i.data.x == 1)", [("data", "items")]),  # i.data is not the event's data
    ("event.type == 'x' && now > event.at", []),
])
def test_cel_paths_are_the_dotted_reads_of_data_and_steps(expression: str,
                                                          paths: list[tuple[str, ...]]) -> None:
    assert list(cel_paths(expression)) == paths


@pytest.mark.parametrize(("source", "paths"), [
    ("Olá {{ data.customer.name }}, {{ steps.a.b }}", [("data", "customer", "name"), ("steps", "a", "b")]),
    ("{{ data.order.id[:8] | upper }}", [("data", "order", "id")]),
    ("{{ data.customer.name.split()[0] }}", [("data", "customer", "name")]),
    ('{{ data["invoice"].number | default("") }}', [("data", "invoice", "number")]),
    ("{% for item in data.items %}{{ item.name }}{% endfor %}", [("data", "items")]),
    ("{% set data = {'a': 1} %}{{ data.a }}", []),  # rebound: not the event's data
    ("{{ data.x + }}", []),  # a syntax error is reported elsewhere
    ("{{ now | data_br }} {{ data }}", []),
])
def test_template_paths_are_the_dotted_reads_of_data_and_steps(source: str,
                                                               paths: list[tuple[str, ...]]) -> None:
    assert sorted(template_paths(source)) == sorted(paths)
