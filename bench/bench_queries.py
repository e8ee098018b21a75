"""Named queries on 1,000,000 orders, invoices and visits in PostgreSQL.

Loads a throwaway database with COPY, shows the EXPLAIN of
``invoices.overdue`` and ``appointments.starting_within`` (they must use
their partial indexes) and times each named query, end to end as a rule
runs it (build, execute, shape rows into dicts), against the same SQL
written by hand and fetched with psycopg. Target: ratio <= 5x.

    .venv/bin/python bench/bench_queries.py [--rows 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.queries import run_query
from store.queries.appointments import starting_within_statement
from store.queries.invoices import overdue_statement

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730
REGIONS = ("sp-centro", "sp-zona-sul", "sp-zona-oeste", "sp-zona-norte", "sp-zona-leste", "abc")

HAND_OVERDUE = """
SELECT i.id, i.number, i.order_id, i.amount, i.amount_paid, i.due_date, i.status, i.issued_at,
       i.external_ids,
       o.id, o.status, o.priority, o.description, o.region, o.address, o.required_skills,
       o.scheduled_start, o.scheduled_end, o.sla_due_at, o.amount, o.customer_id, o.technician_id,
       o.created_at,
       c.id, c.name, c.email, c.phone, c.tier, c.preferred_channel, c.opt_outs, c.time_zone,
       c.address, c.city, c.state
FROM invoices i
JOIN service_orders o ON o.id = i.order_id
JOIN customers c ON c.id = o.customer_id
WHERE i.status IN ('issued', 'partially_paid') AND i.due_date <= %(cutoff)s AND i.deleted_at IS NULL
ORDER BY i.due_date, i.id
"""

HAND_STARTING = """
SELECT a.id, a.order_id, a.technician_id, a.starts_at, a.ends_at, a.status,
       o.id, o.status, o.priority, o.description, o.region, o.address, o.required_skills,
       o.scheduled_start, o.scheduled_end, o.sla_due_at, o.amount, o.customer_id, o.technician_id,
       o.created_at,
       c.id, c.name, c.email, c.phone, c.tier, c.preferred_channel, c.opt_outs, c.time_zone,
       c.address, c.city, c.state,
       t.id, t.name, t.phone, t.email, t.region, t.skills, t.google_calendar_id
FROM appointments a
JOIN service_orders o ON o.id = a.order_id
JOIN customers c ON c.id = o.customer_id
LEFT JOIN technicians t ON t.id = a.technician_id
WHERE a.status IN ('scheduled', 'confirmed') AND a.starts_at >= %(start)s AND a.starts_at < %(end)s
ORDER BY a.starts_at, a.id
"""


def ids(rng: random.Random, count: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def load(dsn: str, rows: int, rng: random.Random) -> None:
    customers, technicians = ids(rng, max(rows // 10, 1)), ids(rng, 200)
    order_ids = ids(rng, rows)
    now = AT.isoformat()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        copy_rows(cur, "customers", ("id", "name", "email", "phone", "tier", "preferred_channel",
                                     "opt_outs", "time_zone", "city", "state", "created_at",
                                     "updated_at"),
                  ((cid, f"Cliente {n}", f"cliente{n}@example.com", f"+55119{n % 10**8:08d}",
                    "standard", "whatsapp", "[]", "America/Sao_Paulo", "São Paulo", "SP", now, now)
                   for n, cid in enumerate(customers)))
        copy_rows(cur, "technicians", ("id", "name", "region", "skills", "active", "working_hours",
                                       "time_zone", "created_at", "updated_at"),
                  ((tid, f"Técnico {n}", REGIONS[n % len(REGIONS)], '["eletrica"]', True, "{}",
                    "America/Sao_Paulo", now, now) for n, tid in enumerate(technicians)))
        copy_rows(cur, "service_orders", ("id", "customer_id", "technician_id", "status", "priority",
                                          "description", "required_skills", "region", "address",
                                          "scheduled_start", "scheduled_end", "sla_due_at", "amount",
                                          "created_at", "updated_at"),
                  order_rows(rng, order_ids, customers, technicians))
        copy_rows(cur, "invoices", ("id", "number", "order_id", "amount", "amount_paid", "due_date",
                                    "status", "issued_at", "external_ids", "created_at", "updated_at"),
                  invoice_rows(rng, order_ids))
        copy_rows(cur, "appointments", ("id", "order_id", "technician_id", "starts_at", "ends_at",
                                        "status", "created_at", "updated_at"),
                  appointment_rows(rng, order_ids, technicians))
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def copy_rows(cur: psycopg.Cursor[Any], table: str, columns: tuple[str, ...],
              rows: Iterator[tuple[Any, ...]]) -> None:
    started, count = time.perf_counter(), 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    elapsed = time.perf_counter() - started
    print(f"  loaded {count:>9,} {table:<15} in {elapsed:5.1f} s ({count / elapsed:,.0f} rows/s)")


def moment(rng: random.Random) -> datetime:
    """Two years of history ending a week after AT (the agenda)."""
    return AT - timedelta(seconds=rng.randint(-7 * 86400, HISTORY_DAYS * 86400))


def order_rows(rng: random.Random, order_ids: list[str], customers: list[str],
               technicians: list[str]) -> Iterator[tuple[Any, ...]]:
    for oid in order_ids:
        start = moment(rng)
        done = start < AT
        yield (oid, rng.choice(customers), rng.choice(technicians),
               "completed" if done else "scheduled", "normal", "Manutenção", '["eletrica"]',
               rng.choice(REGIONS), "Rua Augusta, 100", start, start + timedelta(hours=2),
               start - timedelta(hours=rng.randint(1, 72)) + timedelta(days=3),
               f"{rng.randint(80, 2500)}.00", start - timedelta(days=2), start)


def invoice_rows(rng: random.Random, order_ids: list[str]) -> Iterator[tuple[Any, ...]]:
    for n, oid in enumerate(order_ids):
        issued = moment(rng)
        due: date = (issued + timedelta(days=15)).date()
        # about 2% of invoices are still unpaid, as in a company that collects
        unpaid = rng.random() < 0.02 or due > AT.date()
        yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"FAT-{n:08d}", oid, "300.00",
               "0.00" if unpaid else "300.00", due, "issued" if unpaid else "paid", issued, "{}",
               issued, issued)


def appointment_rows(rng: random.Random, order_ids: list[str],
                     technicians: list[str]) -> Iterator[tuple[Any, ...]]:
    for oid in order_ids:
        start = moment(rng)
        status = "completed" if start < AT else "confirmed"
        yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), oid, rng.choice(technicians),
               start, start + timedelta(hours=2), status, start - timedelta(days=2), start)


def explain(dsn: str, sql: str) -> str:
    with psycopg.connect(dsn) as conn:
        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}").fetchall()
    return "\n".join(f"    {line}" for (line,) in plan)


def compiled(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def median_seconds(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    run()  # warm the caches: both sides are timed warm
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), count


def compare(name: str, ours: Callable[[], int], hand: Callable[[], int], repeat: int) -> float:
    ours_s, ours_rows = median_seconds(ours, repeat)
    hand_s, hand_rows = median_seconds(hand, repeat)
    assert ours_rows == hand_rows, f"{name}: {ours_rows} rows vs {hand_rows} by hand"
    ratio = ours_s / hand_s
    print(f"  {name:<30} {ours_rows:>7,} rows  ours {ours_s * 1000:8.1f} ms  "
          f"hand-written {hand_s * 1000:8.1f} ms  ratio {ratio:4.2f}x  {'ok' if ratio <= 5 else 'OVER 5x'}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    name = f"despacho_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"database {name}: migrating and loading {args.rows:,} orders, invoices and visits")
    try:
        upgrade(url)
        load(dsn, args.rows, random.Random(1))
        return report(url, dsn, args.repeat)
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(url: str, dsn: str, repeat: int) -> int:
    overdue_sql = compiled(overdue_statement(AT, 1))
    starting_sql = compiled(starting_within_statement(AT, 24))
    print("\nEXPLAIN invoices.overdue(days=1):\n" + explain(dsn, overdue_sql))
    print("\nEXPLAIN appointments.starting_within(hours=24):\n" + explain(dsn, starting_sql))

    engine = make_engine(url)
    hand = psycopg.connect(dsn)
    cutoff = AT.date() - timedelta(days=1)

    def ours(query: str, params: dict[str, Any]) -> Callable[[], int]:
        def run() -> int:
            with session_scope(engine) as session:
                return len(run_query(session, query, AT, params))
        return run

    def by_hand(sql: str, params: dict[str, Any]) -> Callable[[], int]:
        def run() -> int:
            with hand.cursor() as cur:
                return len(cur.execute(sql, params).fetchall())
        return run

    print(f"\nmedian of {repeat} warm runs each:")
    ratios = [
        compare("invoices.overdue(days=1)", ours("invoices.overdue", {"days": 1}),
                by_hand(HAND_OVERDUE, {"cutoff": cutoff}), repeat),
        compare("appointments.starting_within(24)", ours("appointments.starting_within", {"hours": 24}),
                by_hand(HAND_STARTING, {"start": AT, "end": AT + timedelta(hours=24)}), repeat),
    ]
    hand.close()
    engine.dispose()
    uses_index = ("ix_invoices_unpaid_due_date" in explain(dsn, overdue_sql)
                  and "ix_appointments_active_starts_at" in explain(dsn, starting_sql))
    print(f"\nindexes used: {'yes' if uses_index else 'NO'}; worst ratio {max(ratios):.2f}x (target <= 5x)")
    return 0 if uses_index and max(ratios) <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
