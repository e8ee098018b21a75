"""The despacho engine: rule language, matcher, conditions, templating, dry-run."""
