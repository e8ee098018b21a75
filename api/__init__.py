"""The HTTP face of despacho: the external REST API, webhooks, health and metrics."""
