"""Synthetic rule sets for the benchmarks: N rules, one of which listens to the probe event."""

from __future__ import annotations

from pathlib import Path

PROBE_EVENT = "invoice.overdue"

RULE = """  - id: rule-{i}
    on: {pattern}
    if:
      - data.days_overdue >= {days}
      - any: ['data.customer.tier == "gold"', 'data.amount > 100.0']
    dedupe: "{{{{ data.invoice_id }}}}-{i}"
    do:
      - sms.send:
          to: "{{{{ data.customer.phone }}}}"
          body: "Ola {{{{ data.customer.name }}}}, a fatura {{{{ data.invoice_id }}}} vence hoje ({i})."
      - event.emit: {{type: invoice.reminded, data: {{rule: "{i}"}}}}
"""


def write_rules(folder: Path, count: int) -> Path:
    """``count`` rules; rule 0 listens to the probe event, the rest to other types (10% wildcards)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    parts = ["rules:\n"]
    for i in range(count):
        if i == 0:
            pattern = PROBE_EVENT
        elif i % 10 == 0:
            pattern = f"'family{i}.*'"
        else:
            pattern = f"family{i}.happened"
        parts.append(RULE.format(i=i, pattern=pattern, days=i % 30))
    rules = folder / "rules"
    rules.mkdir(exist_ok=True)
    # Several files, as a company would have, each under the 1 MiB limit.
    per_file = 1000
    for start in range(0, count, per_file):
        chunk = ["rules:\n", *parts[1 + start: 1 + start + per_file]]
        (rules / f"r{start // per_file:03d}.yaml").write_text("".join(chunk), encoding="utf-8")
    return rules


PROBE_DATA = {
    "invoice_id": "NF-1",
    "days_overdue": 3,
    "amount": 250.0,
    "customer": {"name": "Ana", "phone": "+5511987654321", "tier": "gold"},
}
