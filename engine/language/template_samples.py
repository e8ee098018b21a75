"""Sample data kept beside a message template, so ``despacho validate`` can render it.

``templates/<channel>/<name>.yaml`` (optional)::

    max_segments: 1          # SMS only; overrides the action's max_segments
    sample:                  # the variables the template sees: data, event, config, now...
      config: {company: {name: Refrigeração Paulista, phone: "+551130000000"}}
      data: {invoice: {number: NF-1, amount_due: 1234.5, due_date: "2026-12-01"}}

With a sample, validate renders the template and, for SMS, counts its
segments the way Twilio does, so a text that grew past one segment is caught
before it costs twice per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.sms import text_preview
from engine.language.problems import Problem
from engine.language.templating import TemplateRenderError, TemplateStore
from engine.language.validation import problems_from_validation_error
from engine.language.yamlsafe import YamlInputError, load_file


class TemplateMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_segments: int | None = Field(None, ge=1, le=10)
    sample: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class SampleCheck:
    problems: list[Problem]
    segments: int | None = None


def meta_path(store: TemplateStore, channel: str, name: str) -> FsPath:
    return store.root / channel / f"{name}.yaml"


def check_sample(store: TemplateStore, channel: str, name: str, *, max_segments: int,
                 transliterate: bool) -> SampleCheck:
    """Render the template with its sample; for SMS, compare its segments with the limit."""
    path = meta_path(store, channel, name)
    if not path.is_file():
        return SampleCheck([])
    try:
        doc = load_file(path)
        meta = TemplateMeta.model_validate(doc.data or {})
    except YamlInputError as exc:
        return SampleCheck(exc.problems)
    except ValidationError as exc:
        return SampleCheck(problems_from_validation_error(exc, doc, (), TemplateMeta.model_fields))
    if not meta.sample:
        return SampleCheck([])
    try:
        rendered = store.render(channel, name, {"steps": {}, "rule": {"id": "sample"}, **meta.sample})
    except TemplateRenderError as exc:
        return SampleCheck([doc.problem(("sample",), f"the sample does not render: {exc}",
                                        "add the missing field to the sample")])
    if channel != "sms":
        return SampleCheck([])
    limit = meta.max_segments or max_segments
    preview = text_preview(rendered.get("text", ""), max_segments=limit, translit=transliterate)
    if preview["segments"] <= limit:
        return SampleCheck([], preview["segments"])
    detail = f"{preview['encoding']}, {preview['length']} characters"
    hint = ("shorten the text" if transliterate or preview["encoding"] == "GSM-7"
            else "shorten the text, or set transliterate: true to stay in GSM-7")
    message = (f"template '{name}' renders to {preview['segments']} SMS segments with its sample data "
               f"({detail}), over max_segments={limit}")
    return SampleCheck([Problem("", 0, 0, "", message, hint)], preview["segments"])
