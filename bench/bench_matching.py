"""Per-event dry-run cost with 10,000 rules vs 10 rules, one rule listening (indexed matching).

Run: .venv/bin/python bench/bench_matching.py
Target: ratio (10,000 rules / 10 rules) <= 1.5. Load time is excluded.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._rules import PROBE_DATA, PROBE_EVENT, write_rules
from engine.language.dryrun import DryRun
from engine.language.events import Event
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore


def per_event_seconds(root: Path, count: int, repeats: int) -> float:
    rules = write_rules(root / str(count), count)
    runner = DryRun(load_ruleset([rules], root / str(count) / "templates"), TemplateStore(root), {})
    event = Event(type=PROBE_EVENT, id="probe", data=PROBE_DATA)
    (preview,) = runner.run([event])
    assert [r.id for r in preview.rules] == ["rule-0"] and preview.rules[0].matched
    best = float("inf")
    for _ in range(7):  # best of several rounds: the machine is shared and noisy
        start = time.perf_counter()
        for _ in range(repeats):
            runner.preview(event)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = per_event_seconds(root, 10, 2000)
        large = per_event_seconds(root, 10_000, 2000)
    print(f"per-event dry-run, 10 rules:     {small * 1e6:8.1f} us")
    print(f"per-event dry-run, 10,000 rules: {large * 1e6:8.1f} us")
    print(f"ratio 10,000 / 10 rules: {large / small:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
