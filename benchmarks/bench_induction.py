"""Notebook 07's training: time per run and what it learns, over many seeds.

Runs the training exactly as the solutions notebook does — its given (locked) cells with its own
solution functions, taken from ``solutions/07_induction_heads`` — so the figures quoted in the
notebook can be reproduced:

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_induction.py --seeds 0 40   # the seed study
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_induction.py --timing 5     # time of one run

Seed s draws the initial parameters from ``default_rng(s)``, trains with batch seed ``1000 + s``
and measures every 25 steps on ``evaluation_sequences((s, 7))`` (32 sequences for each half
length 5 … 12). A run's *formation step* is the first measurement with a layer-2 induction score
≥ 0.5 and a repeated-half loss ≤ log(32) / 4. ``--timing`` trains without measurements, each run
in a fresh process, and reports wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.sources import read_source  # noqa: E402

NOTEBOOK = "07_induction_heads"


def notebook_namespace() -> dict:
    """The given cells and the solution functions of notebook 07, run in order in one namespace."""
    namespace = {"__name__": "induction_bench"}
    for cell in read_source(NOTEBOOK).cells:
        meta = cell.metadata.get("nbgrader", {})
        is_given = meta.get("locked") and not meta.get("grade") and meta.get("grade_id") != "setup"
        if cell.cell_type == "code" and (is_given or meta.get("solution")):
            exec(compile(cell.source, meta["grade_id"], "exec"), namespace)  # noqa: S102 - the course's own code
    namespace.setdefault("np", np)
    return namespace


def one_seed(ns: dict, seed: int) -> dict:
    """Train from seed ``seed``, measuring every 25 steps; the final scores and the formation step."""
    initial = ns["init_model"](np.random.default_rng(seed))
    sequences = ns["evaluation_sequences"]((seed, 7))
    history = []

    def record(step, params, loss):
        if step % 25 == 0:
            found = ns["measure"](params, sequences)
            history.append((step, float(found["induction"][1].max()), float(found["loss_repeated"])))

    cpu = time.process_time()
    trained = ns["induction_training"](initial, 1000 + seed, callback=record)
    cpu = time.process_time() - cpu
    final = ns["measure"](trained, sequences)
    history.append((400, float(final["induction"][1].max()), float(final["loss_repeated"])))
    formed = next((s for s, ind, rep in history if ind >= 0.5 and rep <= np.log(32) / 4), None)
    return {"seed": seed, "cpu_s": round(cpu, 2), "induction": round(float(final["induction"][1].max()), 3),
            "loss_repeated": round(float(final["loss_repeated"]), 3),
            "first_minus_log_v": round(float(final["loss_first"] - np.log(32)), 3),
            "previous_token": round(float(final["previous_token"][0].max()), 3), "formed_at": formed}


def timing_run() -> tuple[float, float]:
    """Wall and CPU seconds of one 400-step training without measurements (seed 0)."""
    ns = notebook_namespace()
    initial = ns["init_model"](np.random.default_rng(0))
    wall, cpu = time.perf_counter(), time.process_time()
    ns["induction_training"](initial, 1000)
    return time.perf_counter() - wall, time.process_time() - cpu


def _spread(values):
    values = sorted(values)
    return f"{values[0]} … {statistics.median(values)} … {values[-1]}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, metavar=("FIRST", "STOP"),
                        help="seeds FIRST … STOP − 1")
    parser.add_argument("--timing", type=int, metavar="N", help="time N runs, each in a fresh process")
    parser.add_argument("--one-timing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if args.one_timing:
        print(json.dumps(timing_run()))
        return
    if args.timing:
        runs = []
        for _ in range(args.timing):
            done = subprocess.run([sys.executable, __file__, "--one-timing"], capture_output=True, text=True,
                                  check=True)
            runs.append(json.loads(done.stdout))
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{args.timing} runs of 400 steps: wall {statistics.median(walls):.2f} s "
              f"[{min(walls):.2f}, {max(walls):.2f}], CPU {statistics.median(cpus):.2f} s "
              f"[{min(cpus):.2f}, {max(cpus):.2f}]; load average now {os.getloadavg()[0]:.1f}")
    if args.seeds:
        ns = notebook_namespace()
        rows = []
        for seed in range(*args.seeds):
            rows.append(one_seed(ns, seed))
            print(json.dumps(rows[-1]), flush=True)
        print(f"{len(rows)} seeds (min … median … max):")
        for key in ("induction", "loss_repeated", "first_minus_log_v", "previous_token", "cpu_s"):
            print(f"  {key:<18} {_spread([r[key] for r in rows])}")
        formed = [r["formed_at"] for r in rows]
        print(f"  formed_at          {_spread([f for f in formed if f is not None])}; "
              f"never: {formed.count(None)}")
        passed = sum(r["induction"] >= 0.6 and r["loss_repeated"] <= 0.7 and r["first_minus_log_v"] <= 0.5
                     for r in rows)
        print(f"  pass the graded targets: {passed} / {len(rows)}")


if __name__ == "__main__":
    main()
