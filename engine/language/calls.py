"""Preparing an action's call: the one path shared by the step runner and dry-run.

Render the params (Jinja2 sandbox) → validate them against the action's
params model → render the message template of a messaging action. Dry-run
then asks the connector to ``plan`` the call; the runner asks it to
``execute``. Because both go through ``prepare_call``, dry-run can never
drift from what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from connectors.base import FILE_OUTPUT, Params
from engine.errors import DespachoError
from engine.language.render_limits import budget
from engine.language.ruleset import CompiledAction
from engine.language.templating import TemplateNameError, TemplateRenderError, TemplateStore


class CallPreparationError(DespachoError):
    """The params or the template did not render into a valid call; ``code`` says which."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PreparedCall:
    connector: str
    action: str
    rendered: dict[str, Any]      # the params as rendered (what the step row records)
    params: Params                # validated against the action's params model
    message: dict[str, str] | None  # rendered template parts: subject, text, html
    files: frozenset[str] = frozenset()  # files earlier steps produced (ActionCall.files)


def prepare_call(action: CompiledAction, variables: dict[str, Any], templates: TemplateStore) -> PreparedCall:
    try:
        with budget():  # one deadline for the params and the message of one call
            rendered = action.params.render(variables)
            params: Params = action.spec.params.model_validate(rendered)
            template = getattr(params, "template", None)
            message = (templates.render(action.spec.channel, template, variables)
                       if action.spec.channel and template else None)
    except TemplateNameError as exc:
        raise CallPreparationError(str(exc), code="bad_template_name") from exc
    except TemplateRenderError as exc:
        raise CallPreparationError(str(exc), code=exc.code) from exc  # render_error, template_limit
    except ValidationError as exc:
        raise CallPreparationError(params_error(exc), code="invalid_params") from exc
    connector, name = action.uses.split(".", 1)
    return PreparedCall(connector, name, rendered, params, message, produced_files(variables.get("steps")))


def produced_files(steps: Any) -> frozenset[str]:
    """The ``path`` outputs of the steps run so far: files despacho wrote, not names from the event."""
    if not isinstance(steps, dict):
        return frozenset()
    return frozenset(outputs[FILE_OUTPUT] for outputs in steps.values()
                     if isinstance(outputs, dict) and isinstance(outputs.get(FILE_OUTPUT), str))


def params_error(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "invalid params after rendering: " + "; ".join(parts)
