"""``despacho db seed --demo``: a realistic demo company, the same every time for a seed.

A few hundred customers in São Paulo, 20 technicians, a few thousand orders
over the 90 days before ``at`` (plus a few days of agenda after it), their
visits, invoices and payments, and the notification that told each customer
who was coming. Data only: no events are written, so the
outbox relay does not notify the demo customers about their history.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from store.demo_data import (
    COMPANY_KINDS,
    COMPANY_SUFFIXES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    JOBS,
    PAYMENT_METHODS_WEIGHTED,
    REGIONS,
    SKILLS,
    STREET_KINDS,
    STREET_NAMES,
    SURNAMES,
)
from store.errors import StoreError
from store.models import Appointment, Customer, Invoice, Notification, Payment, ServiceOrder, Technician

LOCAL = ZoneInfo("America/Sao_Paulo")
SLA_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 120}
PRIORITY_WEIGHTS = {"low": 15, "normal": 55, "high": 22, "urgent": 8}
WORKING_HOURS = {day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


class DatabaseNotEmpty(StoreError):
    """Seeding is for an empty database; it never mixes demo rows with real ones."""


@dataclass
class DemoCompany:
    """Builds the rows; ``rng`` alone decides every choice, so a seed gives one company."""

    rng: random.Random
    at: datetime
    customers: int = 300
    technicians: int = 20
    orders: int = 3000
    days: int = 90
    regions: dict[str, str] = field(default_factory=dict)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def person(self) -> tuple[str, str]:
        first = self.rng.choice(FIRST_NAMES)
        middle, last = self.rng.sample(SURNAMES, 2)
        name = f"{first} {last}" if self.rng.random() < 0.5 else f"{first} {middle} {last}"
        handle = _ascii(f"{first}.{last}").lower()
        return name, f"{handle}{self.rng.randint(1, 999)}@{self.rng.choice(EMAIL_DOMAINS)}"

    def phone(self) -> str:
        return f"+55119{self.rng.randint(5, 9)}{self.rng.randint(0, 9_999_999):07d}"

    def address(self, region: str) -> tuple[str, str, str, str]:
        districts, city, state, prefix = REGIONS[region]
        street = f"{self.rng.choice(STREET_KINDS)} {self.rng.choice(STREET_NAMES)}"
        line = f"{street}, {self.rng.randint(10, 3999)} - {self.rng.choice(districts)}"
        postal = f"{prefix}{self.rng.randint(0, 99):02d}-{self.rng.randint(0, 999):03d}"
        return line, city, state, postal

    def make_customers(self) -> list[Customer]:
        """Customers; ``self.regions`` remembers each one's region for their orders."""
        rows = []
        for _ in range(self.customers):
            name, email = self.person()
            company = self.rng.random() < 0.25
            if company:
                name = (f"{self.rng.choice(COMPANY_KINDS)} {self.rng.choice(SURNAMES)} "
                        f"{self.rng.choice(COMPANY_SUFFIXES)}")
            region = self.rng.choice(list(REGIONS))
            line, city, state, postal = self.address(region)
            customer_id = self.uid()
            self.regions[customer_id] = region
            tax_id = demo_tax_id(customer_id, company=company)
            rows.append(Customer(
                id=customer_id, name=name, email=email if self.rng.random() < 0.9 else None,
                phone=self.phone(), tier=self.rng.choices(("standard", "premium", "enterprise"),
                                                          (75, 20, 5))[0],
                preferred_channel=self.rng.choices(("whatsapp", "sms", "email"), (70, 10, 20))[0],
                opt_outs=["sms"] if self.rng.random() < 0.05 else [],
                address=line, city=city, state=state, postal_code=postal, time_zone=LOCAL.key, tax_id=tax_id,
                created_at=self.at - timedelta(days=self.rng.randint(self.days, 3 * 365)),
            ))
        return rows

    def make_technicians(self) -> list[Technician]:
        rows = []
        regions = list(REGIONS)
        for index in range(self.technicians):
            name, email = self.person()
            skills = sorted(self.rng.sample(SKILLS, self.rng.randint(2, 4)))
            rows.append(Technician(
                id=self.uid(), name=name, email=email.split("@")[0] + "@example.com",
                phone=self.phone(), skills=skills, region=regions[index % len(regions)],
                active=index != self.technicians - 1,  # one on leave, so dashboards show it
                working_hours=WORKING_HOURS, google_calendar_id=None, time_zone=LOCAL.key,
                created_at=self.at - timedelta(days=400),
            ))
        return rows

    def make_orders(self, customers: list[Customer], technicians: list[Technician]
                    ) -> tuple[list[ServiceOrder], list[Appointment]]:
        orders, visits = [], []
        start = self.at - timedelta(days=self.days)
        span = self.days * 86400
        for _ in range(self.orders):
            customer = self.rng.choice(customers)
            region = self.regions[customer.id]
            skill = self.rng.choice(SKILLS)
            priority = self.rng.choices(list(PRIORITY_WEIGHTS), list(PRIORITY_WEIGHTS.values()))[0]
            created = start + timedelta(seconds=self.rng.randint(0, span))
            # visits are booked 1-4 days ahead, so the newest orders form the coming agenda
            slot_day = (created + timedelta(days=self.rng.randint(1, 4))).astimezone(LOCAL).date()
            slot = self.business_slot(slot_day)
            order = ServiceOrder(
                id=self.uid(), customer_id=customer.id, region=region, priority=priority,
                description=self.rng.choice(JOBS[skill]), required_skills=[skill],
                address=customer.address, scheduled_start=slot[0], scheduled_end=slot[1],
                sla_due_at=created + timedelta(hours=SLA_HOURS[priority]),
                amount=Decimal(self.rng.randrange(8000, 250000, 500)) / 100,
                created_at=created, updated_at=created,
            )
            candidates = [t for t in technicians if t.region == region and skill in t.skills] \
                or [t for t in technicians if skill in t.skills]
            self.advance(order, candidates)
            if order.technician_id and order.status in ("scheduled", "in_progress", "completed"):
                visits.append(Appointment(
                    id=self.uid(), order_id=order.id, technician_id=order.technician_id,
                    starts_at=slot[0], ends_at=slot[1],
                    status="completed" if order.status == "completed" else "confirmed",
                    created_at=created, updated_at=created,
                ))
            orders.append(order)
        return orders, visits

    def business_slot(self, day: date) -> tuple[datetime, datetime]:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        begin = datetime.combine(day, time(self.rng.randint(8, 15)), LOCAL)
        return begin.astimezone(UTC), (begin + timedelta(hours=self.rng.choice((1, 2, 3)))).astimezone(UTC)

    def advance(self, order: ServiceOrder, candidates: list[Technician]) -> None:
        """Set the status an order of this age would have reached."""
        assert order.scheduled_start is not None and order.scheduled_end is not None
        technician = self.rng.choice(candidates)
        roll = self.rng.random()
        if order.scheduled_end < self.at:
            status = "cancelled" if roll < 0.06 else "on_hold" if roll < 0.08 else "completed"
        elif order.scheduled_start <= self.at:
            status = "in_progress"
        else:
            status = "open" if roll < 0.2 else "assigned" if roll < 0.4 else "scheduled"
        order.status = status
        if status != "open":
            order.technician_id = technician.id
            # from the id, not the generator: the rows drawn after this one stay what they were
            waited = timedelta(minutes=10 + int(order.id[:6], 16) % (36 * 60))
            order.assigned_at = min(order.created_at + waited, order.scheduled_start, self.at)
        if status == "completed":
            order.completed_at = order.scheduled_end
        if status == "cancelled":
            order.cancelled_at = order.scheduled_start - timedelta(hours=self.rng.randint(1, 48))
            order.status_reason = "cliente cancelou"
        order.updated_at = order.completed_at or order.cancelled_at or order.created_at

    def make_billing(self, orders: list[ServiceOrder]) -> tuple[list[Invoice], list[Payment]]:
        invoices, payments = [], []
        for order in orders:
            if order.status != "completed" or order.completed_at is None:
                continue
            issued = order.completed_at
            invoice = Invoice(
                id=self.uid(), number=f"FAT-{issued:%Y%m}-{len(invoices) + 1:05d}", order_id=order.id,
                amount=order.amount, due_date=(issued + timedelta(days=15)).date(), issued_at=issued,
                created_at=issued, updated_at=issued,
            )
            invoices.append(invoice)
            roll = self.rng.random()
            due_at = datetime.combine(invoice.due_date, time(12), UTC)
            if roll < 0.75:  # paid, a few days either side of the due date
                paid_at = due_at + timedelta(days=self.rng.randint(-12, 5))
                if paid_at <= self.at:
                    payments.append(self.payment(invoice, invoice.amount, max(paid_at, issued)))
            elif roll < 0.82:  # half now, the rest outstanding
                paid_at = issued + timedelta(days=self.rng.randint(0, 10))
                if paid_at <= self.at:
                    payments.append(self.payment(invoice, (invoice.amount / 2).quantize(Decimal("0.01")),
                                                 paid_at))
        return invoices, payments

    def make_notifications(self, orders: list[ServiceOrder], customers: list[Customer]
                           ) -> list[Notification]:
        """The "technician assigned" message of each assigned order, on the customer's channel."""
        by_id = {customer.id: customer for customer in customers}
        rows = []
        for order in orders:
            if order.assigned_at is None:
                continue
            customer = by_id[order.customer_id]
            channel = customer.preferred_channel
            if channel in customer.opt_outs or (channel == "email" and customer.email is None):
                channel = "whatsapp"
            status = self.rng.choices(("delivered", "read", "sent", "failed", "undelivered"),
                                      (60, 15 if channel == "whatsapp" else 0, 12, 8, 5))[0]
            sms = channel == "sms"
            rows.append(Notification(
                id=self.uid(), customer_id=customer.id, channel=channel,
                recipient=customer.email if channel == "email" else customer.phone,
                template="technician_assigned", body="Seu técnico foi designado.",
                encoding="GSM-7" if sms else None, segments=self.rng.choice((1, 1, 2)) if sms else None,
                provider="smtp" if channel == "email" else "twilio", status=status,
                error_code="30003" if status in ("failed", "undelivered") else None,
                created_at=order.assigned_at, sent_at=None if status == "failed" else order.assigned_at,
                delivered_at=order.assigned_at if status in ("delivered", "read") else None,
            ))
        return rows

    def payment(self, invoice: Invoice, amount: Decimal, paid_at: datetime) -> Payment:
        invoice.amount_paid += amount
        invoice.status = "paid" if invoice.amount_paid == invoice.amount else "partially_paid"
        invoice.paid_at = paid_at if invoice.status == "paid" else None
        method = self.rng.choice(PAYMENT_METHODS_WEIGHTED)
        return Payment(id=self.uid(), invoice_id=invoice.id, amount=amount, method=method,
                       paid_at=paid_at, created_at=paid_at,
                       external_ids={"omie": str(self.rng.randint(10**8, 10**9))})


def seed_demo(session: Session, *, seed: int = 42, at: datetime | None = None,
              customers: int = 300, technicians: int = 20, orders: int = 3000) -> dict[str, int]:
    """Fill an empty database with the demo company, in the caller's transaction; returns row counts."""
    existing = session.exec(select(sa.func.count()).select_from(Customer)).one()
    if existing:
        raise DatabaseNotEmpty(f"the database already has {existing} customers; "
                               "seed --demo fills only an empty database")
    at = at or datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    company = DemoCompany(random.Random(seed), at, customers, technicians, orders)
    customer_rows = company.make_customers()
    technician_rows = company.make_technicians()
    order_rows, visit_rows = company.make_orders(customer_rows, technician_rows)
    invoice_rows, payment_rows = company.make_billing(order_rows)
    notification_rows = company.make_notifications(order_rows, customer_rows)
    groups = (customer_rows, technician_rows, order_rows, visit_rows, invoice_rows, payment_rows,
              notification_rows)
    for rows in groups:
        session.add_all(rows)
        session.flush()  # parents before children: the reference checks find them
    names = ("customers", "technicians", "service_orders", "appointments", "invoices", "payments",
             "notifications")
    return {name: len(rows) for name, rows in zip(names, groups, strict=True)}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def demo_tax_id(customer_id: str, *, company: bool) -> str:
    """A valid CPF (a person) or CNPJ (a company) fixed by the customer's id, itself from the seed's RNG.

    A generator of its own, so the other choices of the seed (and the data they make) stay as they were;
    brutils computes the check digits (its ``generate`` draws from the global RNG, hence its ``_checksum``).
    """
    from brutils import cnpj, cpf

    rng = random.Random(customer_id)
    if company:
        base = f"{rng.randint(1, 99_999_999):08d}0001"
        return base + cnpj._checksum(base)
    base = f"{rng.randint(1, 999_999_998):09d}"
    return base + cpf._checksum(base)
