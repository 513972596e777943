"""When does notebook 05's reversal model reach its target? A sweep over the graded check's seeds.

Notebook 05 (section 7) says how the graded training goes with correct gradients: how many seeds
pass, and between which steps the held-out accuracy first reaches 0.95. This script measures it
the way the check grades it:

- the model and the training loop are the notebook's own given cells (read from the source
  notebook, as the grader reads them), run with the *reference* backward pass
  ``attention_ref.scaled_dot_product_attention_backward``;
- each seed's training set and initial weights are the hidden check's case for that seed
  (``grader.checks.registry.cases("reversal_training", hidden=True, seed=s)``): 200 training
  sequences, ``W_q`` and ``W_k`` from N(0, 0.5²), 300 steps, learning rate 0.5;
- the held-out accuracy is measured on every sequence of six tokens that is not in the training
  set (``attention_course.given.held_out_sequences``), as the check measures it.

For the first ``--follow`` seeds the accuracy is measured after every step, until it first
reaches 0.95 (the step reported is the number of gradient steps taken); for all ``--seeds``
seeds the accuracy after the 300 steps is measured. It prints the crossing steps and a summary
(min, median, max), and how many seeds pass.

Run: ``.venv/bin/python benchmarks/sweep_reversal.py [--seeds 160] [--follow 60]`` (about a
minute per 20 followed seeds on the 2-core development machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attention_course.given import REVERSAL_TARGET, held_out_sequences, run_given  # noqa: E402
from attention_ref.backward import scaled_dot_product_attention_backward  # noqa: E402
from grader.checks.registry import cases, given_sources  # noqa: E402

NOTEBOOK = "05_backprop_through_attention"


def given_model():
    """The namespace of notebook 05's given cells, run with the reference backward pass."""
    sources = [src for gid, src in given_sources(NOTEBOOK).items() if gid != "setup"]
    reference = {"scaled_dot_product_attention_backward": scaled_dot_product_attention_backward}
    return run_given(sources, reference)


def run_seed(given, seed, follow):
    """(first step at which the held-out accuracy reaches the target or None, final accuracy)."""
    case = cases("reversal_training", hidden=True, seed=seed)[0]
    tokens, params = case.args
    held_out = held_out_sequences(tokens, int(given["n_tok"]))
    crossed = []

    def callback(step, params_before, loss):
        # Called before step `step` with the weights after `step` steps: step 0 is the initial one.
        if follow and not crossed and given["accuracy"](params_before, held_out) >= REVERSAL_TARGET:
            crossed.append(step)

    trained = given["reversal_training"](tokens, params, callback=callback, **case.kwargs)
    final = float(given["accuracy"](trained, held_out))
    if follow and not crossed and final >= REVERSAL_TARGET:
        crossed.append(case.kwargs["steps"])
    return (crossed[0] if crossed else None), final


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=160, help="seeds 0 .. N-1 trained (default 160)")
    parser.add_argument("--follow", type=int, default=60,
                        help="of which the first N are measured after every step (default 60)")
    args = parser.parse_args(argv)
    given = given_model()
    start = time.perf_counter()
    steps, finals = {}, {}
    for seed in range(args.seeds):
        crossed, final = run_seed(given, seed, follow=seed < args.follow)
        finals[seed] = final
        if seed < args.follow:
            steps[seed] = crossed
        print(f"seed {seed:3d}: final held-out accuracy {final:.4f}"
              + (f", first >= {REVERSAL_TARGET} after {crossed} steps" if seed < args.follow else ""),
              flush=True)
    passed = sum(a >= REVERSAL_TARGET for a in finals.values())
    reached = [s for s in steps.values() if s is not None]
    print(f"\n{passed} of {args.seeds} seeds reach held-out accuracy >= {REVERSAL_TARGET} after 300 steps; "
          f"final accuracy min {min(finals.values()):.4f}, median {statistics.median(finals.values()):.4f}")
    if reached:
        print(f"seeds 0-{args.follow - 1}: first >= {REVERSAL_TARGET} after min {min(reached)}, "
              f"median {statistics.median(reached):g}, max {max(reached)} steps "
              f"({len(reached)} of {len(steps)} crossed)")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
