"""A pytest plugin: the whole session's log output is scanned for unmasked personal data.

Every test's captured stdout and stderr (where the product's JSON log lines
go, ``engine.runtime.logs``) and captured log records are collected; at the
end of the session each product log line — and every captured log record — is
searched for the demo seed's phones, emails and CPF/CNPJ
(``store.seed.DemoCompany``, seed 42) and for anything shaped like an E.164
phone, a formatted CPF/CNPJ or an email. Offending lines fail the session,
listed with the test that wrote them.

The scan reads what the product formatted: stdlib records captured by pytest
are raw (the product's handler masks them when it renders, ``caplog`` does
not), so of those only the demo seed's own values count, which no test should
log unmasked either.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

# shaped like personal data, as the masking module would have left it otherwise
UNMASKED = re.compile(r"\+\d{12,13}(?!\d)|(?<!\d)\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)"
                      r"|(?<!\d)\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}(?!\d)"
                      r"|(?<![\w.*])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# tests whose subject is unmasked data itself (they check it is masked before it is logged)
ALLOWED_TESTS = (
    "tests/test_personal_data.py::test_a_raw_phone_logged_through_the_products_logger",
)


def demo_values() -> frozenset[str]:
    """The demo seed's phones, emails and tax ids, as stored."""
    from store.seed import DemoCompany

    company = DemoCompany(random.Random(42), datetime(2026, 12, 1, tzinfo=UTC))
    values: set[str] = set()
    for customer in company.make_customers():
        values.update(v for v in (customer.phone, customer.email, customer.tax_id) if v)
    for technician in company.make_technicians():
        values.update(v for v in (technician.phone, technician.email) if v)
    return frozenset(values)


def is_product_log_line(line: str) -> bool:
    text = line.strip()
    return text.startswith("{") and '"event"' in text and ('"level"' in text or '"timestamp"' in text)


def findings(lines: Iterable[str], known: frozenset[str], *, product: bool) -> list[str]:
    """The lines that give personal data away: demo values anywhere, shapes in product log lines."""
    found = []
    for line in lines:
        shaped = product and is_product_log_line(line) and UNMASKED.search(line)
        if shaped or any(value in line for value in known):
            found.append(line)
    return found


@dataclass
class Scan:
    known: frozenset[str] = field(default_factory=demo_values)
    offending: list[tuple[str, str]] = field(default_factory=list)
    lines_scanned: int = 0

    def report(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith(ALLOWED_TESTS):
            return
        for title, content in report.sections:
            lines = content.splitlines()
            self.lines_scanned += len(lines)
            product = "stdout" in title or "stderr" in title
            for line in findings(lines, self.known, product=product):
                self.offending.append((report.nodeid, line[:300]))


class PersonalDataScanPlugin:
    def __init__(self) -> None:
        self.scan = Scan()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.scan.report(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.scan.offending and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.scan.offending:
            return
        terminalreporter.section("unmasked personal data in the tests' output", red=True)
        for nodeid, line in self.scan.offending[:50]:
            terminalreporter.line(f"{nodeid}: {line}")
        terminalreporter.line(f"{len(self.scan.offending)} line(s); mask them with personal_data (see "
                              "docs/privacy.md, 'Masked personal data')")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PersonalDataScanPlugin(), "despacho-personal-data-scan")
