"""1,000 emails through the email connector vs a bare smtplib loop over one connection.

Both send to the same local aiosmtpd server in the same run; the connector
composes each message (text + HTML), checks its idempotency key and reuses
its SMTP connection. With ``--db`` it also writes a notification row per
message in a SQLite database (a read before the send, one write after it).

Run: .venv/bin/python bench/bench_email.py [--count 1000] [--db]
Targets: connector / bare >= 0.5 without the database (connection reuse keeps
it well above the ~0.5 of reconnecting for every message), >= 0.6 with rows.

The server runs in this process, so each rate is also given per second of
this process's CPU time ("cpu"): on a machine other jobs keep busy, the
wall-clock ratio moves with their load between the two measurements, the
CPU ratio much less.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from connectors.base import ActionCall, Runtime
from connectors.email import EmailConnector, EmailSettings, SendEmailParams
from store.db import make_engine, session_scope
from store.migrate import upgrade

TEXT = "Olá, Maria! Seu técnico, João, chega amanhã entre 9h e 11h. Refrigeração Paulista"
TO = "maria@example.com"
HTML = "<p>Olá, <b>Maria</b>! Seu técnico, João, chega amanhã entre 9h e 11h.</p>"


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bare_message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "maria@example.com", "Visita"
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    return message


class Rate(NamedTuple):
    wall: float  # messages per second
    cpu: float  # messages per second of this process's CPU time (client and server)

    def __format__(self, spec: str) -> str:
        return f"{format(self.wall, spec)} msg/s (cpu {self.cpu:.0f})"


def ratio(ours: Rate, theirs: Rate) -> str:
    return f"{ours.wall / theirs.wall:.2f} (cpu {ours.cpu / theirs.cpu:.2f})"


def rate(count: int, send: Callable[[int], None]) -> Rate:
    started, cpu = time.perf_counter(), time.process_time()
    for number in range(count):
        send(number)
    return Rate(count / (time.perf_counter() - started), count / (time.process_time() - cpu))


def bare_reused(port: int, count: int) -> Rate:
    message = bare_message()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        return rate(count, lambda _: conn.send_message(message, "a@example.com", ["maria@example.com"]))


def bare_reconnecting(port: int, count: int) -> Rate:
    message = bare_message()

    def send(_: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as conn:
            conn.send_message(message, "a@example.com", ["maria@example.com"])
    return rate(count, send)


def email_connector(port: int, runtime: Runtime) -> EmailConnector:
    settings = EmailSettings.model_validate({"transport": "smtp", "host": "127.0.0.1", "port": port,
                                             "security": "none", "from": "a@example.com"})
    return EmailConnector(settings, runtime)


def sender(connector: EmailConnector, run: str) -> Callable[[int], None]:
    params = SendEmailParams(to="maria@example.com", template="technician_assigned")
    parts = {"subject": "Visita", "text": TEXT, "html": HTML}

    def send(number: int) -> None:
        connector.execute(ActionCall("send", params, f"{run}:bench:{number}", message=parts))
    return send


def through_connector(port: int, count: int, runtime: Runtime, run: str) -> tuple[Rate, int]:
    connector = email_connector(port, runtime)
    try:
        return rate(count, sender(connector, run)), connector.transport.connections_opened
    finally:
        connector.close()


def interleaved(port: int, count: int, runtime: Runtime, run: str, rounds: int = 10) -> tuple[float, float]:
    """Median ratios (wall, CPU) of rounds alternating the bare loop and the connector, so that
    a change in the machine's load between the two touches both alike."""
    connector = email_connector(port, runtime)
    ours = sender(connector, run)
    message = bare_message()
    size = max(count // rounds, 1)
    walls, cpus = [], []
    try:
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for number in range(rounds):
                bare = rate(size, lambda _: conn.send_message(message, "a@example.com", [TO]))
                with_db = rate(size, lambda n, base=number * size: ours(base + n))
                walls.append(with_db.wall / bare.wall)
                cpus.append(with_db.cpu / bare.cpu)
    finally:
        connector.close()
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--db", action="store_true", help="also measure with notification rows in SQLite")
    args = parser.parse_args()
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            bare_reused(port, 50)  # warm up both sides
            bare = bare_reused(port, args.count)
            reconnecting = bare_reconnecting(port, min(args.count, 300))
            ours, opened = through_connector(port, args.count, Runtime(outbox=Path(folder) / "outbox"), "a")
            print(f"bare smtplib, one connection:        {bare:7.0f}")
            print(f"bare smtplib, reconnecting each:     {reconnecting:7.0f}")
            print(f"email connector (no database):       {ours:7.0f}, {opened} connection(s) opened")
            print(f"ratio connector / bare: {ratio(ours, bare)} (target >= 0.5); "
                  f"reconnecting / bare: {ratio(reconnecting, bare)}")
            if args.db:
                url = f"sqlite:///{folder}/bench.db"
                upgrade(url)
                engine = make_engine(url)
                runtime = Runtime(outbox=Path(folder) / "outbox-db", session=partial(session_scope, engine))
                with_db, _ = through_connector(port, args.count, runtime, "b")
                print(f"email connector + notification rows: {with_db:7.0f} "
                      f"(ratio to bare {ratio(with_db, bare)}; target >= 0.6)")
                wall, cpu = interleaved(port, args.count, runtime, "c")
                print(f"  the same, interleaved with the bare loop in 10 rounds: "
                      f"ratio {wall:.2f} (cpu {cpu:.2f})")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
