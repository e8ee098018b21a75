"""Which steps load the outputs of earlier steps before they run (``CompiledAction.reads_steps``).

A message template file is read when the step runs, so the compiler cannot see whether it uses
``steps.<id>``: a templated message after a step with an id loads the outputs (without them
``templates/whatsapp/invoice_issued.txt`` failed with "no attribute 'charge'").
"""

from __future__ import annotations

from pathlib import Path

from engine.language.loader import load_ruleset
from tests.conftest import write

RULES = """
rules:
  - id: charged
    on: invoice.issued
    do:
      - id: charge
        accounting.sync_invoice: {invoice_id: "{{ data.invoice.id }}"}
      - whatsapp.send: {to: "+5511987654321", template: lembrete}
        fallback:
          - email.send: {to: "a@b.com.br", template: lembrete}
      - sms.send: {to: "+5511987654321", body: "fixed text"}
  - id: first-step
    on: invoice.issued
    do:
      - whatsapp.send: {to: "+5511987654321", template: lembrete}
"""


def test_a_templated_message_after_a_named_step_reads_the_earlier_outputs(project: Path) -> None:
    write(project / "rules/r.yaml", RULES)
    rules = {rule.id: rule for rule in load_ruleset(["rules"], "templates").rules}
    _, whatsapp, sms = rules["charged"].actions
    assert whatsapp.reads_steps and whatsapp.fallback[0].reads_steps
    assert not sms.reads_steps  # an inline body is compiled: it reads no step
    assert not rules["first-step"].actions[0].reads_steps  # no earlier step to read
