"""The rule language: YAML in, a compiled rule set out, and the tools admins run on it.

``yamlsafe`` (YAML 1.2 with positions) → ``models`` (pydantic) → ``compiler``
→ ``loader`` → ``matcher`` (index by trigger) → ``conditions`` (CEL) →
``templating`` (Jinja2 sandbox); ``calls`` prepares an action's call for both
the runner and ``dryrun``; beside them ``validation``, ``ruletests``,
``schema`` and the event catalogue (``events``). Nothing here imports the
runtime. The names below are what the faces use; each loads on first use.
"""

from engine._lazy import lazy_exports

_EXPORTS = {
    "Event": "engine.language.events",
    "read_events": "engine.language.events",
    "load_rules": "engine.language.loader",
    "load_ruleset": "engine.language.loader",
    "RuleSet": "engine.language.ruleset",
    "Problem": "engine.language.problems",
    "DryRun": "engine.language.dryrun",
    "EventPreview": "engine.language.dryrun",
    "TemplateStore": "engine.language.templating",
    "discover_tests": "engine.language.ruletests",
    "run_tests": "engine.language.ruletests",
    "prepare_call": "engine.language.calls",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
