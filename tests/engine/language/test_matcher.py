from __future__ import annotations

from pathlib import Path

from engine.language.loader import load_ruleset
from tests.conftest import write


def rules_listening(project: Path, patterns: dict[str, str]) -> object:
    body = "rules:\n" + "".join(
        f"  - id: {rule_id}\n    on: {pattern}\n    do: [{{event.emit: {{type: a.b}}}}]\n"
        for rule_id, pattern in patterns.items()
    )
    write(project / "rules/r.yaml", body)
    return load_ruleset(["rules"], "templates").matcher


def test_exact_and_wildcard_patterns_match_in_file_order(project: Path) -> None:
    matcher = rules_listening(project, {
        "any-invoice": "invoice.*", "overdue": "invoice.overdue", "two-levels": "'*.*'",
        "three": "invoice.*.x", "other": "payment.received",
    })
    assert [r.id for r in matcher.rules_for("invoice.overdue")] == ["any-invoice", "overdue", "two-levels"]
    assert [r.id for r in matcher.rules_for("invoice.a.x")] == ["three"]
    assert matcher.rules_for("invoice") == []
    assert matcher.rules_for("customer.created.extra") == []


def test_star_matches_exactly_one_segment(project: Path) -> None:
    matcher = rules_listening(project, {"star": "invoice.*"})
    assert matcher.rules_for("invoice.overdue.again") == []
    assert matcher.rules_for("invoices.overdue") == []


def test_a_rule_listening_twice_is_returned_once(project: Path) -> None:
    write(project / "rules/r.yaml", "rules:\n  - id: twice\n    on: [invoice.paid, 'invoice.*']\n"
                                    "    do: [{event.emit: {type: a.b}}]\n")
    matcher = load_ruleset(["rules"], "templates").matcher
    assert [r.id for r in matcher.rules_for("invoice.paid")] == ["twice"]
