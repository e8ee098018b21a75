"""Connectors: one module per channel or system, each declaring its actions."""
