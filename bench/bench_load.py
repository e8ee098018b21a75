"""Loading and validating 10,000 rules: time and peak memory.

Run: .venv/bin/python bench/bench_load.py [--rounds 3]
Target: despacho's load <= 1.5x the time of the baseline, peak memory reported.
Baseline in the same run: reading the same files with plain PyYAML (libyaml's CSafeLoader,
what despacho's reader builds on), so the ratio says what validation and compilation add on
top of YAML parsing.

Every measurement runs in a fresh interpreter (imports done, nothing loaded yet): a second
load in the same process would find the template and CEL caches warm, so its time and its
peak memory would understate a real first load. Time and memory are measured in separate
processes (tracemalloc slows code). The machine is shared: each round runs the baseline and
despacho back to back, and the figures are medians over the rounds. Both loads are
single-threaded and CPU-bound, so on a quiet machine CPU time equals wall time; on a busy one
CPU time is the figure that still means something, and the ratio is computed on it.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COUNT = 10_000
MIB = 2**20


def plain_yaml(rules: Path) -> object:
    import yaml

    return [yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            for f in sorted(rules.glob("*.yaml"))]


def despacho(rules: Path) -> object:
    from engine.language.loader import load_ruleset

    ruleset = load_ruleset([rules], rules.parent / "templates")
    assert len(ruleset) == COUNT
    return ruleset


def child(kind: str, what: str, rules: Path) -> None:
    """One measurement in this (fresh) process; prints seconds or peak bytes."""
    import yaml  # noqa: F401 (imports are not part of the measurement)

    import engine.language.loader  # noqa: F401

    action = {"plain": plain_yaml, "despacho": despacho}[kind]
    gc.collect()
    if what == "time":
        wall, cpu = time.perf_counter(), time.process_time()
        action(rules)
        print(time.perf_counter() - wall, time.process_time() - cpu)
    else:
        tracemalloc.start()
        action(rules)
        print(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def measure(kind: str, what: str, rules: Path) -> list[float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, what, str(rules)],
                         check=True, capture_output=True, text=True).stdout
    return [float(word) for word in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "WHAT", "RULES"))
    args = parser.parse_args()
    if args.child:
        kind, what, rules = args.child
        child(kind, what, Path(rules))
        return

    from bench._rules import write_rules

    runs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rules = write_rules(Path(tmp), COUNT)
        for round_ in range(1, args.rounds + 1):
            for kind in ("plain", "despacho"):
                wall, cpu = measure(kind, "time", rules)
                (peak,) = measure(kind, "memory", rules)
                for what, value in (("wall", wall), ("cpu", cpu), ("peak", peak)):
                    runs.setdefault((kind, what), []).append(value)
            print(f"round {round_}: " + ", ".join(
                f"{kind} {runs[kind, 'cpu'][-1]:5.2f} s CPU ({runs[kind, 'wall'][-1]:5.2f} s wall)"
                for kind in ("plain", "despacho")) + f", load average {os.getloadavg()[0]:.2f}")
    median = {key: statistics.median(values) for key, values in runs.items()}

    def ratio(what: str) -> float:
        return statistics.median(ours / base for ours, base in
                                 zip(runs["despacho", what], runs["plain", what], strict=True))

    labels = {"plain": "plain PyYAML (libyaml)", "despacho": "despacho load + validate + compile"}
    for kind, label in labels.items():
        print(f"{label:36s} {median[kind, 'cpu']:6.2f} s CPU, {median[kind, 'wall']:6.2f} s wall, "
              f"peak {median[kind, 'peak'] / MIB:6.1f} MiB")
    print(f"ratio CPU time: {ratio('cpu'):.2f}x, wall time: {ratio('wall'):.2f}x "
          f"(medians of {args.rounds} rounds; target <= 1.5), peak memory: {ratio('peak'):.2f}x")


if __name__ == "__main__":
    main()
