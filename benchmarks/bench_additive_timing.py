"""How much does notebook 03's timing plot vary from run to run?

Notebook 03, section 5, times the solution's ``additive_scores`` against the dot-product scores
(``Q @ K.T`` and ``np.einsum``) for n = 32 … 256, d = h = 64, float32. This script runs that
measurement — the notebook's own timing code, read from its ``plot-timing`` cell, with the
solution's ``additive_scores`` — in ``--runs`` fresh Python processes, one after the other, as
a reader who runs the cell again would, and reports for every n and curve the smallest, median
and largest time over the runs, and the ratio of the additive scores to the einsum loop.
``--sizes 16,32,64,128`` times other sequence lengths with the same code.

Run: ``.venv/bin/python benchmarks/bench_additive_timing.py [--runs 10] [--sizes N,N,...]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "03_additive_attention" / "03_additive_attention.ipynb"
CURVES = ("t_dot", "t_ein", "t_add")
NAMES = {"t_dot": "Q @ K.T", "t_ein": "einsum", "t_add": "additive"}


def _cell(nb, key, value):
    """The source of the one cell whose id (key "id") or nbgrader ``key`` is ``value``."""
    cells = [c for c in nb.cells
             if (c.id if key == "id" else c.metadata.get("nbgrader", {}).get(key)) == value]
    assert len(cells) == 1, (key, value)
    return cells[0].source


def child(sizes=None):
    """One run of the notebook's timing cell (with other sizes if given); prints its times as JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from attention_course import when_implemented

    nb = nbformat.read(SOURCE, as_version=4)
    namespace = {"np": np, "plt": plt, "when_implemented": when_implemented}
    exec(_cell(nb, "grade_id", "additive_scores"), namespace)  # noqa: S102 - the course's own solution
    code = _cell(nb, "id", "plot-timing").replace("plt.show()", "plt.close('all')")
    if sizes:
        code, found = re.subn(r"sizes = \[[0-9, ]+\]", f"sizes = [{sizes}]", code)
        assert found == 1, "the timing cell has no `sizes = [...]` line"
    exec(code, namespace)  # noqa: S102 - the course's own cell (it prints its table too)
    print(json.dumps({"sizes": namespace["sizes"], **{c: namespace[c] for c in CURVES}}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", default=None,
                        help="comma-separated n to time instead of the notebook's own, e.g. 16,32,64,128")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.sizes)
    runs = []
    for _ in range(args.runs):
        command = [sys.executable, __file__, "--child"] + (["--sizes", args.sizes] if args.sizes else [])
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    sizes = runs[0]["sizes"]
    print(f"{args.runs} runs, each in a fresh process; ms: min / median / max over the runs")
    print("| n | " + " | ".join(NAMES[c] for c in CURVES) + " | additive ÷ einsum |")
    print("|---|" + "---|" * (len(CURVES) + 1))
    for i, n in enumerate(sizes):
        cells = []
        for curve in CURVES:
            values = [run[curve][i] for run in runs]
            cells.append(f"{min(values):.3g} / {statistics.median(values):.3g} / {max(values):.3g}")
        ratios = [run["t_add"][i] / run["t_ein"][i] for run in runs]
        cells.append(f"{min(ratios):.0f} / {statistics.median(ratios):.0f} / {max(ratios):.0f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    steps = [[run["t_add"][i + 1] / run["t_add"][i] for run in runs] for i in range(len(sizes) - 1)]
    print("additive, time ratio between consecutive n (min / median / max): "
          + ", ".join(f"{a}→{b}: {min(s):.1f} / {statistics.median(s):.1f} / {max(s):.1f}"
                      for a, b, s in zip(sizes[:-1], sizes[1:], steps, strict=True)))


if __name__ == "__main__":
    main()
