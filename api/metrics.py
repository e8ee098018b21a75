"""Prometheus metrics of one API app (its own registry, so two apps in a test do not clash)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from engine.runtime.metrics import REGISTRY as ENGINE_REGISTRY
from engine.runtime.metrics import watch_backlog

if TYPE_CHECKING:
    import sqlalchemy as sa
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The API's HTTP metrics; ``/metrics`` adds this process's engine metrics and, with a database,
    the shared backlogs (events to plan, steps queued and running, open dead letters)."""

    def __init__(self, db: sa.Engine | None = None) -> None:
        self.registry = CollectorRegistry()
        if db is not None:
            watch_backlog(self.registry, db)
        self.requests = Counter("despacho_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("despacho_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_BUCKETS, registry=self.registry)
        self.events = Counter("despacho_events_received_total",
                              "Events received by POST /v1/events (stored=false: a redelivered id)",
                              ["stored"], registry=self.registry)
        self.rate_limited = Counter("despacho_rate_limited_total", "Requests refused with 429",
                                    ["scope"], registry=self.registry)
        # the labelled children, found once: labels() takes a lock and builds its key every time
        self._by_route: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.audit_dropped = Counter("despacho_audit_rows_dropped_total",
                                     "Request audit rows dropped because the database refused them",
                                     registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._by_route.get((method, route, status))
        if children is None:
            children = self._by_route[method, route, status] = (
                self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry) + generate_latest(ENGINE_REGISTRY)
