"""The load, soak and fault suite (`make loadtest`; not part of `make test`).

Every scenario runs real ``despacho worker`` processes against a private
redis-server (no persistence) and a private PostgreSQL cluster, so killing
and restarting them never touches the machine's shared services. Each event
matches one rule whose action is an ``http.request`` to a local vendor
(``vendor.py``) that counts, per idempotency key, what it was asked to do.

- ``harness``: the private services, the project, the worker processes, the
  feeder and the checks (lost, doubled) shared by every scenario;
- ``throughput``: a backlog of events drained by N workers, the paced latency,
  and the raw Dramatiq baseline (``raw``) in the same run; the scale-out curve;
- ``faults``: worker kills, Redis and PostgreSQL restarts, a failing vendor,
  a slow vendor, each under a steady load;
- ``soak``: a steady rate for minutes, sampling memory, queue and connections;
- ``report``: the markdown tables written to ``bench/results/``.

Run: ``.venv/bin/python -m bench.loadtest --help``.
"""
