"""The mapping file: which column of the company's spreadsheet holds which field of despacho's records.

::

    source: planilha-2026          # the system the rows come from (ids are unique within it)
    kind: customers                 # optional: customers, technicians, orders, appointments, invoices
    id_column: Código               # the source system's id of each row
    time_zone: America/Sao_Paulo    # for dates and times written without a zone
    columns:                        # despacho field: column header
      name: Nome
      phone: Celular
      tax_id: CPF/CNPJ
    references:                     # a field naming a row imported before, by the source's id
      customer: Cliente             # (orders: customer, technician; appointments: order, technician;
                                    #  invoices: order)
    defaults:                       # a value for every row where the column is absent or empty
      region: sp-capital
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from store.imports.errors import MappingInvalid

Kind = Literal["customers", "technicians", "orders", "appointments", "invoices"]
MAX_MAPPING_BYTES = 64 * 1024
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")


class ImportMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="Name of the system the rows come from: lower case, digits, _ . -")
    kind: Kind | None = Field(None, description="What the file holds; the command's KIND when absent")
    id_column: str = Field(min_length=1, max_length=200)
    time_zone: str = "America/Sao_Paulo"
    columns: dict[str, str] = Field(default_factory=dict, max_length=100)
    references: dict[str, str] = Field(default_factory=dict, max_length=10)
    defaults: dict[str, Any] = Field(default_factory=dict, max_length=100)

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not _SOURCE.match(value):
            raise ValueError("must be 1-60 characters: lower-case letters, digits, '_', '.', '-'")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}'") from exc
        return value

    def column_of(self, field: str) -> str:
        """The header a field is read from, for problem reports."""
        return self.columns.get(field) or self.references.get(field) or field


def load_mapping(path: Path, kind: Kind) -> ImportMapping:
    """Read and check the mapping file for ``kind``; ``MappingInvalid`` names the file and field at fault."""
    import yaml

    from store.imports.kinds import check_mapping

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingInvalid(f"{path}: cannot read the mapping file ({exc.strerror})") from exc
    if len(raw) > MAX_MAPPING_BYTES:
        raise MappingInvalid(f"{path}: larger than {MAX_MAPPING_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
        # an alias can make a 64 KiB file expand to gigabytes ("billion laughs"); a mapping needs none
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise MappingInvalid(f"{path}: YAML aliases (*name) are not allowed in a mapping file")
        data = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingInvalid(f"{path}: not YAML in UTF-8 ({str(exc).splitlines()[0]})") from exc
    try:
        mapping = ImportMapping.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise MappingInvalid(f"{path}: {where}: {error['msg']}") from exc
    if mapping.kind not in (None, kind):
        raise MappingInvalid(f"{path}: kind: the mapping is for {mapping.kind}, not {kind}")
    mapping = mapping.model_copy(update={"kind": kind})
    problem = check_mapping(mapping)
    if problem:
        raise MappingInvalid(f"{path}: {problem}")
    return mapping
