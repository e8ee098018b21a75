from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from store.db import session_scope
from store.models import Customer, Invoice, ServiceOrder, Technician
from store.queries import run_query
from store.seed import DatabaseNotEmpty, seed_demo


def fingerprint(session: Session) -> tuple:
    names = tuple(session.exec(select(Customer.name).order_by(Customer.id)))
    total = session.exec(select(sa.func.sum(Invoice.amount))).one()
    return names, total


@pytest.fixture
def seeded(engine: sa.Engine, at: datetime) -> sa.Engine:
    with session_scope(engine) as s:
        seed_demo(s, seed=7, at=at, customers=40, orders=400)
    return engine


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_same_seed_gives_the_same_company(seeded: sa.Engine, sqlite_url: str, at: datetime,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    from store.db import make_engine
    from store.migrate import upgrade

    other_url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.db'}"
    upgrade(other_url)
    other = make_engine(other_url)
    with session_scope(other) as s:
        seed_demo(s, seed=7, at=at, customers=40, orders=400)
    with session_scope(seeded) as a, session_scope(other) as b:
        assert fingerprint(a) == fingerprint(b)
    other.dispose()


def test_demo_company_has_what_the_dashboards_and_rules_need(seeded: sa.Engine, at: datetime) -> None:
    with session_scope(seeded) as s:
        assert s.exec(select(sa.func.count()).select_from(Technician)).one() == 20
        statuses = set(s.exec(select(ServiceOrder.status).distinct()))
        assert {"completed", "cancelled"} <= statuses
        assert statuses & {"open", "assigned", "scheduled"}
        phones = s.exec(select(Customer.phone)).all()
        assert all(p is not None and p.startswith("+5511") and len(p) == 14 for p in phones)
        assert run_query(s, "invoices.overdue", at, {"days": 1})
        assert run_query(s, "appointments.starting_within", at, {"hours": 72})


def test_seeding_twice_is_refused(seeded: sa.Engine) -> None:
    with pytest.raises(DatabaseNotEmpty, match="already has 40 customers"), session_scope(seeded) as s:
        seed_demo(s)


def test_every_demo_customer_has_a_valid_cpf_or_cnpj_the_same_for_a_seed(seeded: sa.Engine) -> None:
    from store.tax_ids import is_valid_tax_id

    with Session(seeded) as s:
        customers = list(s.exec(select(Customer)))
    assert customers and all(c.tax_id and is_valid_tax_id(c.tax_id) for c in customers)
    companies = [c for c in customers if c.tax_id and len(c.tax_id) == 14]
    assert companies and len(companies) < len(customers)
