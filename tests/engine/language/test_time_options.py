"""``time_zone`` (and its old name), quiet-hours options and ``delay_until`` as the loader reads them."""

from __future__ import annotations

from pathlib import Path

from engine.language.loader import load_rules, load_ruleset
from tests.conftest import write

QUIET = '    quiet_hours: {from: "21:00", to: "08:00"'
SMS = '      - sms.send: {to: "{{ data.customer.phone }}", template: lembrete}'


def rule(options: str, action: str = SMS) -> str:
    return f"""
rules:
  - id: remind
    on: appointment.reminder_due
{options}
    do:
{action}
"""


def messages(project: Path, text: str) -> list[str]:
    write(project / "rules/a.yaml", text)
    return [f"{p.line}: {p.path}: {p.message}" for p in load_rules(["rules"], "templates").problems]


def test_time_zone_is_the_option_name_and_timezone_still_loads(project: Path) -> None:
    write(project / "rules/a.yaml", rule(QUIET + ', time_zone: America/Manaus}'))
    write(project / "rules/b.yaml", rule(QUIET + ', timezone: America/Recife}')
          .replace("id: remind", "id: old-name")
          + '  - id: cron\n    on: {cron: "0 2 * * *", timezone: America/Belem}\n    do:\n' + SMS + "\n")
    ruleset = load_ruleset(["rules"], "templates")
    zones = {r.id: r.rule.quiet_hours.time_zone for r in ruleset.rules if r.rule.quiet_hours}
    assert zones == {"remind": "America/Manaus", "old-name": "America/Recife"}
    assert ruleset.by_id["cron"].schedules[0].time_zone == "America/Belem"


def test_an_unknown_time_zone_names_the_key_the_file_used(project: Path) -> None:
    found = messages(project, rule(QUIET + ', timezone: America/Sao_Paolo}'))
    assert found == ["4: rules[0].quiet_hours.timezone: unknown time zone 'America/Sao_Paolo' "
                     "(did you mean 'America/Sao_Paulo'?)"]


def test_quiet_hours_take_recipient_max_hold_and_recheck(project: Path) -> None:
    write(project / "rules/a.yaml", rule(QUIET + ', recipient: technician, '
                                         'max_hold: 6h, recheck: true}'))
    quiet = load_ruleset(["rules"], "templates").rules[0].rule.quiet_hours
    assert (quiet.recipient, quiet.max_hold, quiet.recheck) == ("technician", "6h", True)


def test_bad_quiet_hours_options_are_located(project: Path) -> None:
    found = messages(project, rule(QUIET + ', recipient: neighbour, '
                                   'max_hold: 6 hours}'))
    assert len(found) == 2
    assert found[0] == "4: rules[0].quiet_hours.recipient: 'neighbour' is not one of: customer, technician"
    assert found[1].startswith("4: rules[0].quiet_hours.max_hold: invalid duration '6 hours'")


def test_a_literal_delay_until_that_is_no_time_is_refused_at_validate(project: Path) -> None:
    found = messages(project, rule("", SMS + '\n        delay_until: "amanhã cedo"'))
    assert found == ["7: rules[0].do[0].delay_until: delay_until: not a time: 'amanhã cedo' "
                     "(write ISO 8601, e.g. 2026-12-01T09:00:00-03:00)"]


def test_a_templated_delay_until_compiles_and_a_literal_time_is_accepted(project: Path) -> None:
    templated = SMS + "\n        delay_until: \"{{ data.appointment.starts_at | minus('24h') }}\""
    literal = SMS.replace("sms.send", "whatsapp.send") + '\n        delay_until: "2026-12-24T09:00:00-03:00"'
    write(project / "rules/a.yaml", rule("", templated + "\n" + literal))
    actions = load_ruleset(["rules"], "templates").rules[0].actions
    assert [a.delay_until is not None for a in actions] == [True, True]


def test_delay_until_reading_an_unknown_step_or_variable_is_a_problem(project: Path) -> None:
    found = messages(project, rule("", SMS + '\n        delay_until: "{{ steps.nope.at }}{{ customer.x }}"'))
    assert any("unknown variable 'customer'" in f for f in found)
    assert any("unknown step 'steps.nope'" in f for f in found)


def test_delay_and_delay_until_together_are_refused(project: Path) -> None:
    both = SMS + '\n        delay: 2h\n        delay_until: "2026-12-24T09:00:00Z"'
    found = messages(project, rule("", both))
    assert len(found) == 1 and "an action takes 'delay' or 'delay_until', not both" in found[0]
