"""``despacho import``: a company's existing records (CSV or XLSX) brought in, validated, idempotently.

``mapping`` reads the mapping file (which column holds which field), ``sources`` reads
the rows, ``kinds`` says how each kind of record is built, ``apply`` writes them all or
nothing, ``integrity`` reports on the tables afterwards.
"""

from store.imports.apply import ImportReport, RowProblem, import_rows
from store.imports.errors import ImportRejected, MappingInvalid, SourceUnreadable
from store.imports.integrity import integrity_report
from store.imports.mapping import ImportMapping, load_mapping
from store.imports.sources import read_rows

__all__ = ["ImportMapping", "ImportRejected", "ImportReport", "MappingInvalid", "RowProblem",
           "SourceUnreadable", "import_rows", "integrity_report", "load_mapping", "read_rows"]
