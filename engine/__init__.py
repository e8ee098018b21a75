"""The despacho engine: the rule language (``engine.language``) and the runtime (``engine.runtime``).

Only the runtime imports the language. ``engine.settings`` (configuration)
and ``engine.errors`` (located input problems) serve both.
"""

from engine._lazy import lazy_exports

_EXPORTS = {
    "Settings": "engine.settings",
    "load_settings": "engine.settings",
    "ConfigError": "engine.errors",
    "RuleSetError": "engine.errors",
    "EventInputError": "engine.errors",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
