"""Loading and validating 10,000 rules: time and peak memory.

Run: .venv/bin/python bench/bench_load.py
Baseline in the same run: reading the same files with plain PyYAML (libyaml's CSafeLoader,
what despacho's reader builds on), so the ratio says what validation and compilation add on
top of YAML parsing. Time and memory are measured in separate passes (tracemalloc slows code).
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bench._rules import write_rules
from engine.language.loader import load_ruleset

COUNT = 10_000


def measure(action) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rules = write_rules(root, COUNT)
        files = sorted(rules.glob("*.yaml"))

        def plain_yaml() -> list:
            return [yaml.load(f.read_text(), Loader=yaml.CSafeLoader) for f in files]

        def despacho() -> object:
            ruleset = load_ruleset([rules], root / "templates")
            assert len(ruleset) == COUNT
            return ruleset

        base_time, base_peak = measure(plain_yaml)
        time_taken, peak = measure(despacho)
    mib = 2**20
    print(f"plain PyYAML (libyaml), {COUNT:,} rules: {base_time:6.2f} s, peak {base_peak / mib:6.1f} MiB")
    print(f"despacho load + validate + compile: {time_taken:6.2f} s, peak {peak / mib:6.1f} MiB")
    print(f"ratio time: {time_taken / base_time:.2f}x, ratio peak memory: {peak / base_peak:.2f}x")


if __name__ == "__main__":
    main()
