"""How long each solutions notebook takes, and what `python -m grader check` adds on top.

For every assignment, side by side and interleaved over the repetitions:

- ``cells``: the time the notebook's own cells take (the sum of their execution times,
  read from the kernel's timestamps in the graded notebook) — the "runs top to bottom"
  figure, target under 10 s;
- ``check``: the wall time of the whole command ``python -m grader check NOTEBOOK --json``
  in a fresh process (imports, kernel start in the sandbox, hidden checks, verdicts);
- ``overhead`` = check − cells: the grader's own cost, target under 5 s.

Run: ``.venv/bin/python benchmarks/bench_notebooks.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.runtime.grade import cell_seconds, check_notebook  # noqa: E402
from grader.sources import assignments, source_path  # noqa: E402


def run_check(path):
    """Wall time of ``python -m grader check`` on ``path`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json", "--seed", "1"],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"grader check failed on {path}: {done.stderr}")
    return wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("assignments", nargs="*", help="assignments to measure (default: all)")
    args = parser.parse_args(argv)
    rows = {a: {"cells": [], "check": []} for a in args.assignments or assignments()}
    for _ in range(args.repeat):
        for assignment, row in rows.items():
            path = source_path(assignment)
            row["check"].append(run_check(path))
            row["cells"].append(cell_seconds(check_notebook(path, seed=1).graded.notebook))
    print(f"median of {args.repeat} runs, seconds")
    print("| assignment | cells | check (wall) | overhead |\n|---|---|---|---|")
    for assignment, row in rows.items():
        cells, check = statistics.median(row["cells"]), statistics.median(row["check"])
        print(f"| {assignment} | {cells:.2f} | {check:.2f} | {check - cells:.2f} |")


if __name__ == "__main__":
    main()
