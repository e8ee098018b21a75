"""Configuration: connectors (secrets masked) with "test connection", message templates with a live
preview, rule files edited and rules switched on or off — every change validated, then committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from console import configuration as conf
from console.auth import Admin, AdminForm, Form, User
from console.context import Console, NavItem, console_of
from console.errors import ConsoleRefusal
from console.gitsave import save_and_commit
from console.render import page
from engine.language.templating import CHANNEL_PARTS
from engine.runtime.checks import Which, run_checks, store_results
from store.audit import record_action
from store.db import session_scope
from store.flags import all_flags, delete_flag, set_flag
from store.models import FeatureFlag

NAV = NavItem("/console/configuracao", "Configuração", "Conectores, modelos de mensagem e regras")


def _roots(console: Console) -> tuple[Path, Path]:
    return Path(console.settings.rules.path), Path(console.settings.templates.path)


def _audit(console: Console, actor: str, action: str, entity_type: str, entity_id: str,
           details: dict[str, Any]) -> None:
    with session_scope(console.engine) as session:
        record_action(session, actor, action, entity_type=entity_type, entity_id=entity_id, details=details)


def _overview(console: Console) -> dict[str, Any]:
    rules_root, templates_root = _roots(console)
    files, rules = conf.list_rules(rules_root)
    with session_scope(console.engine) as session:
        flags = {key.removeprefix("rule:"): flag for key, flag in all_flags(session).items()
                 if key.startswith("rule:")}
    templates = conf.list_templates(templates_root)
    sms = {t.name: conf.preview(templates_root, "sms", t.name) for t in templates if t.channel == "sms"}
    return {"connectors": conf.connector_views(console.settings), "templates": templates, "sms": sms,
            "rule_files": files, "rules": rules, "flags": flags}


# percent and listed-subject rollouts need a subject key and values: `despacho flags set` sets those
RULE_FLAG_MODES = ("on", "off", "shadow", "nenhum")


def register(router: APIRouter) -> None:
    @router.get("/configuracao")
    async def configuration_page(request: Request, user: User) -> Response:
        console = console_of(request)
        values = await anyio.to_thread.run_sync(_overview, console)
        return page(console, request, "configuration.html", user, message=None, **values)

    @router.post("/configuracao/conectores/{name}/testar")
    async def test_connection(request: Request, user: Admin, form: AdminForm, name: str) -> Response:
        console = console_of(request)
        if name not in conf.CHECKABLE:
            raise conf.BadName(f"conector sem teste: {name}")

        def run() -> str:
            results = run_checks(console.settings, Which(name), console.engine)
            store_results(console.engine, results)
            _audit(console, user.actor, "console.connector_tested", "connector", name,
                   {"ok": all(r.ok for r in results)})
            return "; ".join(f"{r.connector}: {'ok' if r.ok else 'falhou'} em {r.latency_ms:.0f} ms"
                             + (f" — {r.error}" if r.error else "") + (f" ({r.hint})" if r.hint else "")
                             for r in results)

        message = await anyio.to_thread.run_sync(run)
        values = await anyio.to_thread.run_sync(_overview, console)
        return page(console, request, "configuration.html", user, message=message, **values)

    @router.get("/configuracao/modelos/{channel}/{name}")
    async def template_page(request: Request, user: User, channel: str, name: str) -> Response:
        console = console_of(request)
        _, root = _roots(console)
        conf.template_file(root, channel, name, "text")  # the channel and name are checked first

        def read() -> tuple[dict[str, str], conf.Preview]:
            return conf.read_template(root, channel, name), conf.preview(root, channel, name)

        parts, shown = await anyio.to_thread.run_sync(read)
        return page(console, request, "template.html", user, channel=channel, name=name, parts=parts,
                    preview=shown, problems=[], saved=None, labels=CHANNEL_PARTS[channel])

    @router.post("/configuracao/modelos/{channel}/{name}/previa")
    async def template_preview(request: Request, user: User, form: Form, channel: str,
                               name: str) -> Response:
        console = console_of(request)
        _, root = _roots(console)
        edited = _parts(form, channel)
        shown = await anyio.to_thread.run_sync(lambda: conf.preview(root, channel, name, edited))
        return JSONResponse({"rendered": shown.rendered, "error": shown.error, "segments": shown.segments,
                             "encoding": shown.encoding, "length": shown.length, "non_gsm": shown.non_gsm})

    @router.post("/configuracao/modelos/{channel}/{name}")
    async def template_save(request: Request, user: Admin, form: AdminForm, channel: str,
                            name: str) -> Response:
        console = console_of(request)
        _, root = _roots(console)
        edited = _parts(form, channel)

        def save() -> tuple[list[str], str | None]:
            problems = conf.problems_with(console.settings, template=(channel, name, edited))
            if problems or form.get("acao") != "salvar":
                return problems, None
            files = {conf.template_file(root, channel, name, part): (text.replace("\r\n", "\n") or None)
                     for part, text in edited.items()}
            message = f"templates/{channel}/{name}: edited in the console by {user.name}"
            saved = save_and_commit(files, author=user.name, message=message)
            _audit(console, user.actor, "console.template_saved", "template", f"{channel}/{name}",
                   {"commit": saved.commit, "files": [p.name for p in saved.paths]})
            return [], saved.commit

        problems, commit = await anyio.to_thread.run_sync(save)
        shown = await anyio.to_thread.run_sync(lambda: conf.preview(root, channel, name, edited))
        return page(console, request, "template.html", user, status_code=422 if problems else 200,
                    channel=channel, name=name, parts=edited, preview=shown, problems=problems,
                    saved=commit, labels=CHANNEL_PARTS[channel])

    @router.get("/configuracao/regras/{relative:path}")
    async def rule_file_page(request: Request, user: User, relative: str) -> Response:
        console = console_of(request)
        rules_root, _ = _roots(console)
        path = conf.rule_file(rules_root, relative)
        text = await anyio.to_thread.run_sync(lambda: path.read_text(encoding="utf-8"))
        return page(console, request, "rule_file.html", user, relative=relative, text=text, problems=[],
                    saved=None)

    @router.post("/configuracao/regras/{relative:path}")
    async def rule_file_save(request: Request, user: Admin, form: AdminForm, relative: str) -> Response:
        console = console_of(request)
        rules_root, _ = _roots(console)
        path = conf.rule_file(rules_root, relative)
        text = str(form.get("texto", "")).replace("\r\n", "\n")

        def save() -> tuple[list[str], str | None]:
            problems = conf.problems_with(console.settings, rule_file=(path, text))
            if problems:
                return problems, None
            saved = save_and_commit({path: text}, author=user.name,
                                    message=f"rules/{relative}: edited in the console by {user.name}")
            _audit(console, user.actor, "console.rule_file_saved", "rule_file", relative,
                   {"commit": saved.commit})
            return [], saved.commit

        problems, commit = await anyio.to_thread.run_sync(save)
        return page(console, request, "rule_file.html", user, status_code=422 if problems else 200,
                    relative=relative, text=text, problems=problems, saved=commit)

    @router.post("/configuracao/regras-ativas")
    async def toggle_rule(request: Request, user: Admin, form: AdminForm) -> Response:
        console = console_of(request)
        rules_root, _ = _roots(console)
        relative, rule_id = str(form.get("arquivo", "")), str(form.get("regra", ""))
        enabled = form.get("ativa") == "sim"
        path = conf.rule_file(rules_root, relative)

        def toggle() -> list[str]:
            text = conf.with_enabled(path.read_text(encoding="utf-8"), rule_id, enabled)
            problems = conf.problems_with(console.settings, rule_file=(path, text))
            if problems:
                return problems
            verb = "enabled" if enabled else "disabled"
            saved = save_and_commit({path: text}, author=user.name,
                                    message=f"rule {rule_id}: {verb} in the console by {user.name}")
            _audit(console, user.actor, f"console.rule_{verb}", "rule", rule_id,
                   {"file": relative, "commit": saved.commit})
            return []

        problems = await anyio.to_thread.run_sync(toggle)
        if problems:
            raise ConsoleRefusal("a mudança foi recusada: " + "; ".join(problems[:5]))
        return RedirectResponse("/console/configuracao#regras", status_code=303)

    @router.post("/configuracao/regras-flag")
    async def flag_rule(request: Request, user: Admin, form: AdminForm) -> Response:
        """The rule's feature flag (on, off, shadow, or none: the file decides), audited by the store."""
        console = console_of(request)
        rule_id, mode = str(form.get("regra", ""))[:200], str(form.get("modo", ""))
        if mode not in RULE_FLAG_MODES:
            raise ConsoleRefusal(f"modo de flag desconhecido: {mode[:20]}")
        _, rules = conf.list_rules(_roots(console)[0])
        if rule_id not in {r.id for r in rules}:
            raise conf.BadName(f"regra não encontrada: {rule_id}")

        def change() -> None:
            with session_scope(console.engine) as session:
                if mode == "nenhum":
                    if session.get(FeatureFlag, f"rule:{rule_id}") is not None:
                        delete_flag(session, f"rule:{rule_id}", actor=user.actor)
                else:
                    set_flag(session, f"rule:{rule_id}", mode, actor=user.actor)

        await anyio.to_thread.run_sync(change)
        return RedirectResponse("/console/configuracao#regras", status_code=303)


def _parts(form: FormData, channel: str) -> dict[str, str]:
    if channel not in CHANNEL_PARTS:
        raise conf.BadName(f"canal desconhecido: {channel}")
    return {part: str(form.get(f"parte_{part}", ""))[:conf.MAX_TEXT] for part in CHANNEL_PARTS[channel]}
