"""``python -m bench.loadtest``: run the chosen scenarios and write a markdown report to bench/results/.

Small:  .venv/bin/python -m bench.loadtest --events 2000 --scale-events 1000 --soak-minutes 1 \
            --fault-seconds 10 --scenarios throughput,faults
Full (``make loadtest``): the defaults: 100,000 events, scale-out on 20,000, all five faults with a
60 s vendor fault, a 30-minute soak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.loadtest.faults import FAULTS, fault_table, run_fault
from bench.loadtest.harness import REPO, Services, load_average
from bench.loadtest.soak import soak
from bench.loadtest.throughput import scale_out, throughput

SCENARIOS = ("throughput", "scaleout", "faults", "soak")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma list of {', '.join(SCENARIOS)} and/or single faults "
                             f"({', '.join(FAULTS)})")
    parser.add_argument("--events", type=int, default=100_000, help="throughput backlog")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (throughput, faults, soak)")
    parser.add_argument("--latency-rate", type=float, default=100, help="events/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--scale-events", type=int, default=20_000, help="backlog of each scale-out point")
    parser.add_argument("--fault-rate", type=float, default=50, help="events/s fed during the faults")
    parser.add_argument("--fault-seconds", type=float, default=60, help="how long the vendor faults last")
    parser.add_argument("--outage", type=float, default=5, help="seconds Redis or PostgreSQL stay down")
    parser.add_argument("--before", type=float, default=15, help="seconds of load before each fault")
    parser.add_argument("--after", type=float, default=15, help="seconds of load after each fault")
    parser.add_argument("--soak-minutes", type=float, default=30)
    parser.add_argument("--soak-rate", type=float, default=50)
    parser.add_argument("--out", type=Path, default=None,
                        help="default: bench/results/loadtest-<UTC time>.md")
    return parser.parse_args(argv)


def header(args: argparse.Namespace) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    return "\n".join([
        f"# Load, soak and fault suite — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"Commit {commit}; {os.cpu_count()} cores; load average (1/5/15 min) at the start {load_average()}. "
        "Private redis-server (no persistence) and PostgreSQL cluster (fsync on); every event matches "
        "one rule with one `http.request` to a local vendor; events stored through `accept_events` "
        "(as `despacho emit` and the API's group commit store them).", "",
        f"Command: `python -m bench.loadtest {' '.join(sys.argv[1:])}`", ""])


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS and name not in FAULTS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; choose from {SCENARIOS + FAULTS}")
    faults = [f for f in FAULTS if "faults" in chosen or f in chosen]
    out = args.out or REPO / "bench" / "results" / f"loadtest-{datetime.now(UTC):%Y%m%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [header(args)]

    def write(section: str) -> None:
        sections.append(section)
        out.write_text("\n".join(sections))
        print(section, flush=True)

    services = Services().start()
    try:
        if "throughput" in chosen:
            write(throughput(services, args.events, args.workers, args.latency_rate, args.latency_seconds)
                  .markdown())
        if "scaleout" in chosen:
            write(scale_out(services, args.scale_events).markdown())
        if faults:
            results = []
            for name in faults:
                started = time.monotonic()
                results.append(run_fault(services, name, rate=args.fault_rate, workers=args.workers,
                                         before=args.before, after=args.after, outage=args.outage,
                                         fault_seconds=args.fault_seconds))
                print(f"{name}: done in {time.monotonic() - started:.0f} s", flush=True)
            write(fault_table(results, args.fault_rate, args.workers))
        if "soak" in chosen:
            write(soak(services, args.soak_minutes, args.soak_rate, args.workers).markdown())
    finally:
        services.stop()
    print(f"written {out}")


if __name__ == "__main__":
    main()
