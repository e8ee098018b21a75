"""The CEL library, imported without the interactive shell its package loads on the way in.

``cel/__init__.py`` imports ``cel.cli``, a REPL built on typer, prompt_toolkit, pygments and rich:
about 90 ms of every command's start for code despacho never runs. While the package initialises,
a placeholder stands in for that one submodule; it is taken out again at once, so ``import cel.cli``
anywhere later still loads the real shell.
"""

from __future__ import annotations

import sys
import types

_SHELL = "cel.cli"


def _import_without_shell() -> None:
    if "cel" in sys.modules:
        return
    placeholder = types.ModuleType(_SHELL)
    sys.modules[_SHELL] = placeholder
    try:
        import cel
    finally:
        if sys.modules.get(_SHELL) is placeholder:
            del sys.modules[_SHELL]
    if getattr(cel, "cli", None) is placeholder:
        del cel.cli


_import_without_shell()

import cel  # noqa: E402  (after the placeholder did its work)

__all__ = ["cel"]
