"""Prometheus metrics of one API app (its own registry, so two apps in a test do not clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("despacho_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("despacho_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_BUCKETS, registry=self.registry)
        self.events = Counter("despacho_events_received_total",
                              "Events received by POST /v1/events (stored=false: a redelivered id)",
                              ["stored"], registry=self.registry)
        self.rate_limited = Counter("despacho_rate_limited_total", "Requests refused with 429",
                                    ["scope"], registry=self.registry)
        self.audit_dropped = Counter("despacho_audit_rows_dropped_total",
                                     "Request audit rows dropped because the database refused them",
                                     registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
