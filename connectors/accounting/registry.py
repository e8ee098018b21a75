"""Which adapter speaks for which system: one explicit entry per vendor module (no name-building)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.accounting.adapter import AccountingAdapter, AdapterRuntime
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError

AdapterFactory = Callable[[AccountingSettings, AdapterRuntime], AccountingAdapter]



def _conta_azul(settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    from connectors.accounting.conta_azul import ContaAzulAdapter

    return ContaAzulAdapter(settings, runtime)


# each vendor module adds its own entry: "asaas": _asaas, with a function importing the module lazily
ADAPTERS: dict[str, AdapterFactory] = {
    "conta_azul": _conta_azul,
}


def adapter_for(system: str, settings: AccountingSettings, runtime: AdapterRuntime) -> AccountingAdapter:
    factory = ADAPTERS.get(system)
    if factory is None:
        known = ", ".join(sorted(ADAPTERS)) or "none yet"
        raise PermanentError(f"accounting system '{system}' is not supported (known: {known})",
                             code="unknown_system")
    return factory(settings, runtime)
