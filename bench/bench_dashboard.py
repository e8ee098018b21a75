"""The console's dashboard over 1,000,000 orders in PostgreSQL, against hand-written SQL.

Creates a throwaway database on the shared server (127.0.0.1:5432), migrates
it, and generates the rows in SQL with ``generate_series`` (orders over two
years, their visits, invoices, payments and notifications). Then times
``console.metrics.dashboard`` end to end (statements built, executed, shaped
into dataclasses) against the same figures computed by hand-written SQL sent
with psycopg, each as the median of 3 warm runs, for the whole company and for
a narrowed view. Target: ratio <= 2x. Prints ``uptime`` before and after: the
machine is shared, so read the ratio, not the milliseconds.

    .venv/bin/python bench/bench_dashboard.py [--rows 1000000] [--days 30] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.metrics import Filters, available_hours, dashboard
from store.db import make_engine
from store.migrate import upgrade

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730
REPEAT = 3

GENERATE = """
SELECT setseed(0.42);
INSERT INTO technicians (id, name, region, active, skills, working_hours, time_zone, created_at, updated_at)
SELECT md5('t' || n)::uuid::text, 'Técnico ' || n, (ARRAY['sp-centro','sp-zona-sul','sp-zona-oeste',
       'sp-zona-norte','sp-zona-leste','abc'])[1 + n %% 6], n %% 40 <> 0, '["eletrica"]'::json,
       '{"mon":["08:00","18:00"],"tue":["08:00","18:00"],"wed":["08:00","18:00"],
         "thu":["08:00","18:00"],"fri":["08:00","18:00"]}'::json, 'America/Sao_Paulo', %(at)s, %(at)s
FROM generate_series(1, 60) n;
INSERT INTO customers (id, name, phone, tier, preferred_channel, opt_outs, time_zone, created_at, updated_at)
SELECT md5('c' || n)::uuid::text, 'Cliente ' || n, '+55119' || lpad(n::text, 8, '0'), 'standard',
       (ARRAY['whatsapp','sms','email'])[1 + n %% 3], '[]'::json, 'America/Sao_Paulo', %(at)s, %(at)s
FROM generate_series(1, 20000) n;
INSERT INTO service_orders (id, customer_id, technician_id, status, priority, description, required_skills,
       region, sla_due_at, amount, created_at, updated_at, assigned_at, completed_at, cancelled_at)
SELECT id, customer_id, CASE WHEN status <> 'open' THEN technician_id END, status, 'normal', 'Serviço',
       json_build_array(skill), region, created_at + interval '72 hours', amount, created_at, created_at,
       CASE WHEN status <> 'open' THEN created_at + wait END,
       CASE WHEN status = 'completed' THEN created_at + work END,
       CASE WHEN status = 'cancelled' THEN created_at + wait END
FROM (
  SELECT md5('o' || n)::uuid::text AS id, md5('c' || (1 + n %% 20000))::uuid::text AS customer_id,
         md5('t' || (1 + n %% 60))::uuid::text AS technician_id,
         (ARRAY['sp-centro','sp-zona-sul','sp-zona-oeste','sp-zona-norte','sp-zona-leste','abc'])
           [1 + n %% 6] AS region,
         (ARRAY['eletrica','hidraulica','ar_condicionado','refrigeracao','gas','redes'])
           [1 + (n / 7) %% 6] AS skill,
         %(at)s - (n::float / %(rows)s * %(days)s) * interval '1 day' AS created_at,
         CASE WHEN n < %(rows)s * 0.01 THEN (ARRAY['open','assigned','scheduled','in_progress'])[1 + n %% 4]
              WHEN random() < 0.05 THEN 'cancelled' ELSE 'completed' END AS status,
         random() * interval '30 hours' AS wait, interval '4 hours' + random() * interval '5 days' AS work,
         round((80 + random() * 2400)::numeric, 2) AS amount
  FROM generate_series(1, %(rows)s) n) o;
INSERT INTO appointments (id, order_id, technician_id, starts_at, ends_at, status, created_at, updated_at)
SELECT md5('a' || id)::uuid::text, id, technician_id, completed_at - interval '2 hours', completed_at,
       'completed', created_at, created_at
FROM service_orders WHERE status = 'completed';
INSERT INTO invoices (id, number, order_id, amount, amount_paid, due_date, status, issued_at, external_ids,
       created_at, updated_at)
SELECT md5('i' || id)::uuid::text, 'FAT-' || md5('i' || id), id, amount,
       CASE WHEN paid THEN amount ELSE 0 END, (completed_at + interval '15 days')::date,
       CASE WHEN paid THEN 'paid' ELSE 'issued' END, completed_at, '{}'::json, completed_at, completed_at
FROM (SELECT *, random() < 0.8 OR completed_at > %(at)s - interval '20 days' AND random() < 0.3 AS paid
      FROM service_orders WHERE status = 'completed') o;
INSERT INTO payments (id, invoice_id, amount, method, paid_at, external_ids, created_at)
SELECT md5('p' || id)::uuid::text, id, amount, 'pix', issued_at + random() * interval '15 days', '{}'::json,
       issued_at
FROM invoices WHERE status = 'paid';
INSERT INTO notifications (id, customer_id, channel, recipient, body, encoding, segments, status,
       status_history, created_at)
SELECT md5('n' || id)::uuid::text, customer_id, channel, '+5511900000000', 'Seu técnico foi designado.',
       CASE WHEN channel = 'sms' THEN 'GSM-7' END,
       CASE WHEN channel = 'sms' THEN 1 + (random() < 0.3)::int END,
       (ARRAY['delivered','delivered','delivered','sent','failed','undelivered'])
         [1 + floor(random() * 6)::int],
       '[]'::json, assigned_at
FROM (SELECT *, (ARRAY['whatsapp','sms','email'])[1 + floor(random() * 3)::int] AS channel
      FROM service_orders WHERE assigned_at IS NOT NULL) o;
"""


def hand_queries(narrow: bool) -> list[str]:
    """The dashboard's figures as one would write them in psql."""
    o_region = " AND o.region = %(region)s AND o.required_skills ->> 0 = %(category)s" if narrow else ""
    join_o = " JOIN service_orders o ON o.id = i.order_id" if narrow else ""
    return [
        f"""SELECT count(*), avg(extract(epoch FROM o.assigned_at - o.created_at)) FROM service_orders o
            WHERE o.created_at >= %(start)s AND o.created_at < %(end)s{o_region}""",
        f"""SELECT count(*), avg(extract(epoch FROM o.completed_at - o.created_at)), count(o.sla_due_at),
                   coalesce(sum(CASE WHEN o.completed_at <= o.sla_due_at THEN 1 ELSE 0 END), 0)
            FROM service_orders o WHERE o.completed_at >= %(start)s AND o.completed_at < %(end)s{o_region}""",
        f"""SELECT count(*) FROM service_orders o
            WHERE o.cancelled_at >= %(start)s AND o.cancelled_at < %(end)s{o_region}""",
        f"""SELECT date(timezone('America/Sao_Paulo', o.created_at)), count(*) FROM service_orders o
            WHERE o.created_at >= %(start)s AND o.created_at < %(end)s{o_region} GROUP BY 1""",
        f"""SELECT date(timezone('America/Sao_Paulo', o.completed_at)), count(*) FROM service_orders o
            WHERE o.completed_at >= %(start)s AND o.completed_at < %(end)s{o_region} GROUP BY 1""",
        "SELECT id, name, region, working_hours FROM technicians"
        + " WHERE active AND deleted_at IS NULL" + (" AND region = %(region)s" if narrow else ""),
        f"""SELECT a.technician_id, sum(extract(epoch FROM a.ends_at - a.starts_at)) FROM appointments a
            {"JOIN service_orders o ON o.id = a.order_id" if narrow else ""}
            WHERE a.starts_at >= %(start)s AND a.starts_at < %(end)s
              AND a.status IN ('scheduled', 'confirmed', 'completed') AND a.technician_id IS NOT NULL
              {"AND o.required_skills ->> 0 = %(category)s" if narrow else ""}
            GROUP BY a.technician_id""",
        f"""SELECT o.technician_id, count(*) FROM service_orders o
            WHERE o.completed_at >= %(start)s AND o.completed_at < %(end)s
              AND o.technician_id IS NOT NULL{o_region} GROUP BY o.technician_id""",
        f"""SELECT coalesce(sum(i.amount), 0) FROM invoices i{join_o}
            WHERE i.issued_at >= %(start)s AND i.issued_at < %(end)s AND i.status <> 'cancelled'
              AND i.deleted_at IS NULL{o_region}""",
        f"""SELECT coalesce(sum(p.amount), 0) FROM payments p
            {"JOIN invoices i ON i.id = p.invoice_id" + join_o if narrow else ""}
            WHERE p.paid_at >= %(start)s AND p.paid_at < %(end)s{o_region}""",
        f"""SELECT coalesce(sum(i.amount - i.amount_paid), 0), count(*) FROM invoices i{join_o}
            WHERE i.status IN ('issued', 'partially_paid') AND i.due_date < %(today)s
              AND i.deleted_at IS NULL{o_region}""",
        """SELECT channel, status, count(*), coalesce(sum(segments), 0) FROM notifications
           WHERE created_at >= %(start)s AND created_at < %(end)s AND deleted_at IS NULL
           GROUP BY channel, status ORDER BY channel, status""",
    ]


def by_hand(dsn: str, filters: Filters, narrow: bool) -> Callable[[], int]:
    params = {"start": filters.start, "end": filters.end, "region": filters.region,
              "category": filters.category, "today": AT.astimezone(filters.time_zone).date()}
    queries = hand_queries(narrow)
    conn = psycopg.connect(dsn, autocommit=True)  # one connection, as the engine's pool keeps one

    def run() -> int:
        rows = 0
        for sql in queries:
            result = conn.execute(sql, params).fetchall()
            rows += len(result)
            if sql.startswith("SELECT id, name, region, working_hours"):
                for row in result:  # the capacity is computed in Python either way
                    available_hours(row[3] or {}, filters)
        return rows
    return run


def ours(url: str, filters: Filters) -> Callable[[], int]:
    engine = make_engine(url)

    def run() -> int:
        with engine.connect() as connection:
            board = dashboard(connection, filters, at=AT, sms_segment_price=Decimal("0.085"))
        return board.orders.opened
    return run


def median_seconds(run: Callable[[], int]) -> float:
    run()  # warm: plans cached, pages in memory
    times = []
    for _ in range(REPEAT):
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="the dashboard's period")
    parser.add_argument("--keep", action="store_true", help="leave the database for a look in psql")
    args = parser.parse_args()
    name = f"despacho_bench_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    try:
        return run(url, dsn, args.rows, args.days)
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, dsn: str, rows: int, days: int) -> int:
    print(f"load before: {uptime()}")
    upgrade(url)
    begin = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        for statement in filter(str.strip, GENERATE.split(";\n")):
            conn.execute(statement, {"at": AT, "rows": rows, "days": HISTORY_DAYS})  # type: ignore[arg-type]
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                  for table in ("service_orders", "appointments", "invoices", "payments", "notifications")}
    print(f"generated in {time.perf_counter() - begin:.0f} s: "
          + ", ".join(f"{count:,} {table}" for table, count in counts.items()))
    worst = 0.0
    views = [("whole company", Filters.last_days(days, AT), False),
             ("one region and category", Filters.last_days(days, AT, region="sp-zona-sul",
                                                           category="eletrica"), True)]
    print(f"\nmedian of {REPEAT} warm runs each, last {days} days:")
    for label, filters, narrow in views:
        ours_s = median_seconds(ours(url, filters))
        hand_s = median_seconds(by_hand(dsn, filters, narrow))
        ratio = ours_s / hand_s
        worst = max(worst, ratio)
        print(f"  {label:<26} dashboard {ours_s * 1000:8.1f} ms   hand SQL {hand_s * 1000:8.1f} ms"
              f"   ratio {ratio:4.2f}x")
    print(f"\nload after: {uptime()}")
    print(f"worst ratio {worst:.2f}x (target <= 2x): {'ok' if worst <= 2 else 'TOO SLOW'}")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
