"""The order connector: a status change reports what the order was and what it is now."""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from connectors.base import Runtime
from connectors.order import OrderConnector, SetStatusParams
from store.db import session_scope
from store.service_orders import create_order
from tests.connectors.conftest import call


def test_set_status_returns_previous_and_new_status(
        engine: sa.Engine, runtime: Runtime, make_customer: Callable[..., Any],
        make_step: Callable[[str, str], Any]) -> None:
    customer = make_customer()
    with session_scope(engine) as s:
        order_id = create_order(s, customer_id=customer.id, region="sp").id
    make_step("order.set_status", "rule:event:0")
    params = SetStatusParams(order_id=order_id, status="on_hold", reason="waiting for parts")

    outputs = OrderConnector(runtime=runtime).execute(call("set_status", params))

    assert outputs == {"previous_status": "open", "status": "on_hold"}
