"""The rule language: YAML in, a compiled rule set out, and the tools admins run on it.

``yamlsafe`` (YAML 1.2 with positions) → ``models`` (pydantic) → ``compiler``
→ ``loader`` → ``matcher`` (index by trigger) → ``conditions`` (CEL) →
``templating`` (Jinja2 sandbox); beside them ``validation``, ``dryrun``,
``ruletests``, ``schema`` and the event catalogue (``events``). Nothing here
imports the runtime.
"""
