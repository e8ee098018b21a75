"""The Configuration page's data and edits: connectors (secrets masked), templates, rule files.

Every edit is validated the way ``despacho validate`` validates, on a scratch copy of the rules
and templates with the change applied, and only a change with no problems is written and
committed (``console.gitsave``). Names that reach the file system are checked first: a template is
``<channel>/<name><suffix>`` with a known channel and suffix and a plain name; a rule file is a
``.yaml``/``.yml`` path inside the rules folder (no ``..``, no symlink out, not in ``tests/``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from console.errors import ConsoleRefusal
from engine.language.loader import TESTS_FOLDER, discover, load_rules
from engine.language.masking import MASK, mask_url, secret_key
from engine.language.problems import Problem
from engine.language.template_samples import TemplateMeta, check_sample, meta_path
from engine.language.templating import CHANNEL_PARTS, TemplateRenderError, TemplateStore
from engine.language.yamlsafe import YamlInputError, load_file, load_text

TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
RULE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}\.ya?ml$")
MAX_TEXT = 200_000
CHECKABLE = ("email", "sms", "whatsapp", "calendar", "accounting")
CONNECTORS = ("email", "sms", "whatsapp", "calendar", "accounting", "backup", "http")
# what every template preview sees unless the template's own sample (<name>.yaml) says otherwise
DEFAULT_SAMPLE: dict[str, Any] = {
    "config": {"company": {"name": "Refrigeração Paulista", "phone": "+551130000000",
                           "email": "contato@example.com"}},
    "event": {"id": "evt-exemplo", "type": "service_order.assigned", "source": "erp",
              "at": "2026-12-01T13:15:00+00:00"},
    "now": "2026-12-01T13:15:00+00:00",
    "rule": {"id": "exemplo"},
    "steps": {},
    "data": {
        "customer": {"id": "c-1", "name": "Maria Oliveira", "phone": "+5511987654321",
                     "email": "maria@example.com"},
        "technician": {"id": "t-1", "name": "João Pereira", "phone": "+5511912345678"},
        "order": {"id": "5f1c2a9e-0000-4000-8000-000000000000", "number": "OS-1024",
                  "description": "Limpeza de ar-condicionado", "status": "scheduled", "priority": "high",
                  "scheduled_start": "2026-12-02T12:00:00+00:00",
                  "scheduled_end": "2026-12-02T15:00:00+00:00",
                  "address": "Rua Augusta, 1500 — São Paulo/SP", "amount": 360.0},
        "appointment": {"starts_at": "2026-12-02T12:00:00+00:00", "ends_at": "2026-12-02T15:00:00+00:00"},
        "invoice": {"number": "NF-1", "amount_due": 1234.5, "due_date": "2026-12-01",
                    "payment_url": "https://pagar.example.com/nf-1"},
        "payment": {"amount": 1234.5, "method": "pix", "paid_at": "2026-12-01T13:15:00+00:00"},
    },
}


class BadName(ConsoleRefusal):
    """A template or rule file name the console will not touch (traversal, unknown channel...)."""


# --- connectors ---------------------------------------------------------------------------------

@dataclass
class ConnectorView:
    name: str
    transport: str
    fields: list[tuple[str, str]]  # (dotted name, value as shown: secrets masked)
    checkable: bool


def connector_views(settings: Any) -> list[ConnectorView]:
    views = []
    for name in CONNECTORS:
        model = getattr(settings.connectors, name)
        views.append(ConnectorView(name, str(getattr(model, "transport", "")), list(_flat(masked(model))),
                                   name in CHECKABLE))
    return views


def masked(value: Any, key: str = "") -> Any:
    """Settings as the browser may see them: secrets (``SecretStr``, secret-looking names, passwords
    in URLs) replaced by ``***`` when set; nothing secret leaves this function."""
    if isinstance(value, BaseModel):
        return {name: masked(getattr(value, name), name) for name in type(value).model_fields}
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if secret_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flat(item, f"{prefix}.{key}" if prefix else str(key))
        return
    yield prefix, "" if value is None else str(value)


# --- templates ----------------------------------------------------------------------------------

@dataclass
class TemplateInfo:
    channel: str
    name: str
    parts: list[str]


@dataclass
class Preview:
    rendered: dict[str, str] = field(default_factory=dict)
    error: str = ""
    segments: int | None = None
    encoding: str = ""
    length: int = 0
    non_gsm: str = ""
    sample_from: str = "padrão"  # "padrão" or the template's <name>.yaml


def list_templates(root: Path) -> list[TemplateInfo]:
    store = TemplateStore(root)
    return [TemplateInfo(channel, name, sorted(store.part_files(channel, name)))
            for channel in CHANNEL_PARTS for name in store.names(channel) if TEMPLATE_NAME.match(name)]


def template_file(root: Path, channel: str, name: str, part: str) -> Path:
    """The file of one part of a template, after checking every piece of the name."""
    if channel not in CHANNEL_PARTS or part not in CHANNEL_PARTS[channel] or not TEMPLATE_NAME.match(name):
        raise BadName(f"modelo inválido: {channel}/{name} ({part})")
    folder = (root / channel).resolve()
    path = folder / f"{name}{CHANNEL_PARTS[channel][part]}"
    if path.is_symlink() or not path.resolve().is_relative_to(folder):
        raise BadName(f"modelo fora da pasta templates/{channel}/")
    return path


def read_template(root: Path, channel: str, name: str) -> dict[str, str]:
    parts = {}
    for part in CHANNEL_PARTS.get(channel, {}):
        path = template_file(root, channel, name, part)
        parts[part] = path.read_text(encoding="utf-8") if path.is_file() else ""
    return parts


def sample_for(root: Path, channel: str, name: str) -> tuple[dict[str, Any], str]:
    """The preview's variables: the defaults, overridden by the template's own sample when it has one."""
    path = meta_path(TemplateStore(root), channel, name)
    if not path.is_file():
        return DEFAULT_SAMPLE, "padrão"
    try:
        meta = TemplateMeta.model_validate(load_file(path).data or {})
    except (YamlInputError, ValueError):
        return DEFAULT_SAMPLE, "padrão"
    return _merged(DEFAULT_SAMPLE, meta.sample), path.name


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def preview(root: Path, channel: str, name: str, edited: dict[str, str] | None = None) -> Preview:
    """Render the template (with EDITED parts instead of the files', when given) on sample data."""
    sample, source = sample_for(root, channel, name)
    result = Preview(sample_from=source)
    with _scratch(root, "templates") as scratch:
        if edited:
            _apply_parts(scratch, channel, name, edited)
        try:
            result.rendered = TemplateStore(scratch).render(channel, name, sample)
        except TemplateRenderError as exc:
            result.error = str(exc).replace(str(scratch), "templates")
            return result
    if channel == "sms":
        from connectors.sms import text_preview

        counted = text_preview(result.rendered.get("text", ""))
        result.segments, result.encoding = counted["segments"], counted["encoding"]
        result.length, result.non_gsm = counted["length"], counted.get("non_gsm_characters", "")
    return result


def _apply_parts(root: Path, channel: str, name: str, parts: dict[str, str]) -> None:
    for part, text in parts.items():
        path = template_file(root, channel, name, part)
        if text.strip():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_clean(text), encoding="utf-8")
        else:
            path.unlink(missing_ok=True)


def _clean(text: str) -> str:
    """Browsers send CRLF line ends; the files keep LF."""
    if len(text) > MAX_TEXT:
        raise BadName(f"texto longo demais (máximo {MAX_TEXT} caracteres)")
    return text.replace("\r\n", "\n")


# --- validation on a scratch copy ---------------------------------------------------------------

@contextmanager
def _scratch(source: Path, label: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"despacho-console-{label}-") as folder:
        copy = Path(folder) / label
        if source.is_dir():
            shutil.copytree(source, copy, symlinks=True)
        else:
            copy.mkdir()
        yield copy


def problems_with(settings: Any, *, rule_file: tuple[Path, str] | None = None,
                  template: tuple[str, str, dict[str, str]] | None = None) -> list[str]:
    """What ``despacho validate`` would say with this change applied (errors only), as
    ``FILE:LINE:COL: PATH: MESSAGE (hint)`` with the real paths; for a template, its own checks too."""
    rules_root, templates_root = Path(settings.rules.path), Path(settings.templates.path)
    with _scratch(rules_root, "rules") as rules, _scratch(templates_root, "templates") as templates:
        if rule_file is not None:
            path, text = rule_file
            target = rules / path.resolve().relative_to(rules_root.resolve())
            target.write_text(_clean(text), encoding="utf-8")
        loaded = load_rules([rules], templates, http_settings=settings.connectors.http)
        found: list[Problem] = list(loaded.problems)
        own: list[str] = []
        if template is not None:
            channel, name, parts = template
            _apply_parts(templates, channel, name, parts)
            store = TemplateStore(templates)
            own = [f"{p.file or f'{channel}/{name}'}:{p.line}: {p}" for p in store.check(channel, name)]
            sms = settings.connectors.sms
            sampled = check_sample(store, channel, name, max_segments=1,
                                   transliterate=bool(getattr(sms, "transliterate", False)))
            found.extend(sampled.problems)
        lines = own + [_line(p) for p in found]
        return [_real(line, rules, rules_root, templates, templates_root) for line in lines]


def _line(p: Problem) -> str:
    hint = f" ({p.hint})" if p.hint else ""
    return f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}{hint}"


def _real(line: str, rules: Path, rules_root: Path, templates: Path, templates_root: Path) -> str:
    for scratch, real in ((rules, rules_root), (templates, templates_root)):
        line = line.replace(str(scratch.resolve()), str(real)).replace(str(scratch), str(real))
    return line


# --- rule files ---------------------------------------------------------------------------------

@dataclass
class RuleInfo:
    id: str
    enabled: bool
    description: str
    file: str  # relative to the rules folder
    index: int


def rule_file(root: Path, relative: str) -> Path:
    """A rule file inside ROOT named by RELATIVE (as the console's URLs carry it), or ``BadName``."""
    if not RULE_FILE.match(relative) or ".." in relative.split("/") or "//" in relative:
        raise BadName(f"arquivo de regras inválido: {relative!r}")
    if relative.split("/", 1)[0] == TESTS_FOLDER:
        raise BadName("os testes de regras não são editados pelo console")
    base = root.resolve()
    path = base / relative
    if not path.resolve().is_relative_to(base) or not path.is_file():
        raise BadName(f"arquivo de regras não encontrado: {relative}")
    return path


def list_rules(root: Path) -> tuple[list[str], list[RuleInfo]]:
    """The rule files (relative names) and the rules in them, read even when a file has problems."""
    files, _ = discover([root])
    base = root.resolve()
    names, rules = [], []
    for path in files:
        relative = path.resolve().relative_to(base).as_posix()
        names.append(relative)
        try:
            data = load_file(path).data
        except YamlInputError:
            continue
        entries = data.get("rules") if isinstance(data, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                rules.append(RuleInfo(entry["id"], entry.get("enabled", True) is not False,
                                      str(entry.get("description") or ""), relative, index))
    return names, rules


def with_enabled(text: str, rule_id: str, enabled: bool) -> str:
    """TEXT with the rule's ``enabled:`` set (the line replaced, or added under its ``id:``); the rest of
    the file, comments included, as it was."""
    doc = load_text(text, "rule file")
    found = doc.data.get("rules") if isinstance(doc.data, dict) else None
    entries: list[Any] = found if isinstance(found, list) else []
    index = next((i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("id") == rule_id), None)
    if index is None:
        raise BadName(f"regra '{rule_id}' não está neste arquivo")
    lines = text.split("\n")
    value = "true" if enabled else "false"
    if "enabled" in entries[index]:
        line, _ = doc.position(("rules", index, "enabled"), key=True)
        current = lines[line - 1]
        replaced = re.sub(r"^(\s*(?:-\s+)?enabled:\s*)[^\s#]+", rf"\g<1>{value}", current)
        if replaced == current and not re.match(rf"^\s*(?:-\s+)?enabled:\s*{value}\b", current):
            raise BadName("o campo 'enabled' desta regra não está numa linha própria: edite o arquivo")
        lines[line - 1] = replaced
    else:
        line, column = doc.position(("rules", index, "id"), key=True)
        lines.insert(line, " " * (column - 1) + f"enabled: {value}")
    return "\n".join(lines)
