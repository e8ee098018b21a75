"""Structured JSON logs (structlog) for the daemon, workers, scheduler and API: one object per line.

Our own lines go through structlog; the libraries' lines (APScheduler, uvicorn, Dramatiq, and
``logging`` users of our own) reach the root logger's one handler, whose structlog
``ProcessorFormatter`` renders them as the same JSON, with their logger's name. Both write through
structlog's writer for stderr, under its one lock, so lines never interleave and ``jq`` reads
every line.
Every line, ours or a library's, is masked last (``personal_data``): a phone, email, CPF or CNPJ
never reaches the log as it was.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from personal_data import structlog_processor as mask_personal_data

# Libraries that install their own handlers (uvicorn's default config does): theirs are removed
# so their lines reach the root handler and come out as JSON too.
OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Two INFO lines per job run ("Running job", "executed successfully"), and the scheduler's leadership
# check runs every second: below DEBUG they are left out (fires are logged as `schedule_fired`).
CHATTY = ("apscheduler.executors.default",)


class _JsonLines(logging.Handler):
    """A ``logging`` handler writing the formatted record through structlog's writer for stderr."""

    def __init__(self, writer: structlog.WriteLogger) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.msg(self.format(record))
        except Exception:  # logging must never raise into the caller: the stdlib's own policy
            self.handleError(record)


def _drop_colours(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colour codes
    return event


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure(level: str = "INFO", *, json: bool = True) -> None:
    """One JSON object per line on stderr, with ISO timestamps and the log level, for every logger."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    writer = structlog.WriteLogger(sys.stderr)
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, mask_personal_data,
                    renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=lambda *_: writer,
        cache_logger_on_first_use=True,
    )
    handler = _JsonLines(writer)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name,
                           structlog.stdlib.ExtraAdder(), _drop_colours],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, mask_personal_data, renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _JsonLines | logging.StreamHandler)
                and not type(h).__module__.startswith("_pytest")]:
        root.removeHandler(old)  # a second configure (tests, workers) replaces, never doubles
    root.addHandler(handler)
    root.setLevel(level)
    for name in OWN_HANDLERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if level.upper() == "DEBUG" else logging.WARNING)
