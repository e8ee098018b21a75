"""Which adapter speaks for which system: one explicit entry per vendor module (no name-building)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.accounting.adapter import AccountingAdapter, AdapterRuntime
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError

AdapterFactory = Callable[[AccountingSettings, AdapterRuntime], AccountingAdapter]


# one function per vendor, importing its module lazily (checking rules loads no vendor client)
def _asaas(settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    from connectors.accounting.asaas import AsaasAdapter

    return AsaasAdapter(settings.asaas, runtime)


def _omie(settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    from connectors.accounting.omie import omie_adapter

    return omie_adapter(settings, runtime)


def _conta_azul(settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    from connectors.accounting.conta_azul import ContaAzulAdapter

    return ContaAzulAdapter(settings, runtime)


ADAPTERS: dict[str, AdapterFactory] = {
    "asaas": _asaas,
    "omie": _omie,
    "conta_azul": _conta_azul,
}


def adapter_for(system: str, settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    factory = ADAPTERS.get(system)
    if factory is None:
        known = ", ".join(sorted(ADAPTERS)) or "none yet"
        raise PermanentError(f"accounting system '{system}' is not supported (known: {known})",
                             code="unknown_system")
    return factory(settings, runtime)
