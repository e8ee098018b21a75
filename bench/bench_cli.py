"""How long the CLI takes to start: `despacho --help` and `despacho validate`, against bare imports.

Run: .venv/bin/python bench/bench_cli.py [--runs 7]
Baseline in the same run: `python -c "import yaml, pydantic, jinja2, cel"`, the libraries any rule
check needs. Each figure is the median wall time of a fresh subprocess (imports included), the runs
of the three commands interleaved so a burst of load elsewhere hits them alike. `validate` checks
the repository's example rules (rules/), from the repository root, and must exit 0.
The project's modules are byte-compiled first, as an installed package is: the libraries of the
baseline come with their bytecode, and with PYTHONDONTWRITEBYTECODE set (as on the CI machines) an
editable checkout would otherwise compile every one of its modules from source on each run.
Targets: --help <= 1.5x the baseline, validate <= 2.5x.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "connectors", "store", "api", "commands", "console")
MODULES = ("cli.py", "errors.py", "personal_data.py")


def byte_compile_project() -> None:
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)
    for module in MODULES:
        compileall.compile_file(ROOT / module, quiet=1)


def despacho_script() -> str:
    beside = Path(sys.executable).parent / "despacho"
    found = str(beside) if beside.exists() else shutil.which("despacho")
    if found is None:
        sys.exit("no 'despacho' script beside this python or on PATH: pip install -e . first")
    return found


def commands() -> dict[str, list[str]]:
    despacho = despacho_script()
    return {
        "import yaml, pydantic, jinja2, cel": [sys.executable, "-c", "import yaml, pydantic, jinja2, cel"],
        "despacho --help": [despacho, "--help"],
        "despacho validate rules": [despacho, "validate", "rules"],
    }


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is shown)")
    runs = parser.parse_args().runs
    argvs = commands()
    byte_compile_project()
    for argv in argvs.values():  # warm the bytecode and the page cache; not counted
        wall_time(argv)
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(runs):
        for name, argv in argvs.items():
            times[name].append(wall_time(argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["import yaml, pydantic, jinja2, cel"]
    targets = {"despacho --help": 1.5, "despacho validate rules": 2.5}
    print(f"median of {runs} runs each, wall time of a fresh process; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, median in medians.items():
        target = f" (target <= {targets[name]}x)" if name in targets else " (baseline)"
        print(f"{name:36s} {median:6.3f} s  {median / baseline:5.2f}x{target}")


if __name__ == "__main__":
    main()
