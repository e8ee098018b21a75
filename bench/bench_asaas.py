"""1,000 invoices charged on the fake Asaas through ``AsaasAdapter`` vs bare httpx doing the same requests.

Each charge is four requests in both loops: the search by ``externalReference``, the
create, the PIX QR code and the boleto line (``billing_type: UNDEFINED``). The adapter
adds building the bodies from our records, Decimal amounts, error classification and
an audited ``Exchange`` per request (the key removed, long strings shortened). Both
loops use one keep-alive connection to the same local server, in the same run, each on
its own invoice ids.

Run: .venv/bin/python bench/bench_asaas.py [--count 1000]
Target: adapter / bare >= 0.5 (issue 13). The server runs in this process, so both
rates include its work; Asaas's own limits are far above a local loop's rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from connectors.accounting.adapter import AdapterRuntime, CustomerRecord, InvoiceRecord
from connectors.accounting.asaas import AsaasAdapter
from connectors.accounting.settings import AsaasSettings
from tests.fakes.asaas import API_KEY, FakeAsaas, asaas_server

MARIA = CustomerRecord(id="c-bench", name="Maria Souza", tax_id="52998224725", email="maria@example.com",
                       phone="+5511987654321")


def through_adapter(fake: FakeAsaas, count: int) -> float:
    adapter = AsaasAdapter(AsaasSettings.model_validate({"api_url": fake.url, "api_key": API_KEY}),
                           AdapterRuntime(audit=lambda exchange: None))
    customer = adapter.upsert_customer(MARIA, "k").external_id
    due = fake.today + timedelta(days=5)
    started = time.perf_counter()
    for n in range(count):
        invoice = InvoiceRecord(id=f"a-{n}", number=f"FAT-{n}", customer=MARIA, amount=Decimal("310.05"),
                                due_date=due, description="Manutenção")
        adapter.push_invoice(invoice, customer, f"k-{n}")
    return count / (time.perf_counter() - started)


def bare(fake: FakeAsaas, count: int) -> float:
    client = httpx.Client(base_url=fake.url + "/", headers={"access_token": API_KEY})
    customer = client.post("customers", json={"name": "Bare", "cpfCnpj": "52998224725"}).json()["id"]
    due = (fake.today + timedelta(days=5)).isoformat()
    started = time.perf_counter()
    for n in range(count):
        client.get("payments", params={"externalReference": f"b-{n}", "limit": 10}).json()
        charge = client.post("payments", json={
            "customer": customer, "billingType": "UNDEFINED", "value": 310.05, "dueDate": due,
            "externalReference": f"b-{n}", "description": f"FAT-{n} — Manutenção"}).json()
        client.get(f"payments/{charge['id']}/pixQrCode").json()
        client.get(f"payments/{charge['id']}/identificationField").json()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    count = parser.parse_args().count
    with asaas_server() as fake:
        raw = bare(fake, count)
        ours = through_adapter(fake, count)
        raw_again = bare(fake, count)  # the fake's lists grow: measure bare on both sides of ours
    baseline = (raw + raw_again) / 2
    print(f"bare httpx: {raw:8.1f} then {raw_again:8.1f} invoices/s")
    print(f"adapter:    {ours:8.1f} invoices/s")
    print(f"ratio:      {ours / baseline:8.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
