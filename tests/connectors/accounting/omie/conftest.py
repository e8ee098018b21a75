"""Fixtures of the Omie tests: the fake server, the audit trail, adapters pointed at the fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connectors.accounting.adapter import Exchange
from connectors.accounting.omie import OmieAdapter
from tests.connectors.accounting.omie.support import adapter_factory
from tests.fakes.omie import FakeOmie, omie_server


@pytest.fixture
def omie() -> Iterator[FakeOmie]:
    with omie_server() as fake:
        yield fake


@pytest.fixture
def audit() -> list[Exchange]:
    return []


@pytest.fixture
def make_adapter(omie: FakeOmie, audit: list[Exchange]) -> Iterator[Callable[..., OmieAdapter]]:
    with adapter_factory(omie, audit) as make:
        yield make
