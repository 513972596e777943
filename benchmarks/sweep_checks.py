"""Catalogue sweep of the checks: every known mistake, learner-style answer and dtype fault, many seeds.

For every exercise (given code excluded) and every hidden seed in the range, judge in-process:

- each **variant** as if a learner had made exactly that mistake: it should be named as itself;
- each **buggy** learner-style answer of ``tests/support/learners``: it should be named as its key;
- each **valid** learner-style answer (and the reference): it should pass;
- the reference and each variant with a **float64 result** (a dtype fault on top): whatever is
  named must explain the returned value exactly.

A run is *misnamed* when the verdict names a mistake whose output on the failing case is not what
the implementation returned (dtype included) or equals the expected value — the fault the naming
rule forbids; checked here with a comparison independent of ``attention_course.compare``. The other
outcomes are counted too: *undetected* (a wrong answer passed that seed's cases), *named as another*
(a different mistake with exactly the same output on the failing case), *unnamed* (failed, no
mistake named) and *false failures* (a right answer failed).

Run: ``.venv/bin/python benchmarks/sweep_checks.py [--seeds 200] [--jobs 1] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

import learners  # noqa: E402
from checking import explains  # noqa: E402

from grader.checks import local, registry  # noqa: E402
from grader.checks.judge import call_quietly  # noqa: E402

#: Outcome kinds, in the order of the report's columns.
KINDS = ("ok", "misnamed", "named as another", "unnamed", "undetected", "false failure")


def _float64(fn):
    def answer(*args, **kwargs):
        return _cast(fn(*args, **kwargs))
    answer.__name__ = f"{getattr(fn, '__name__', 'answer')}_float64"
    return answer


def _cast(value):
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "f":
        return value.astype(np.float64)
    if isinstance(value, (tuple, list)):
        return type(value)(_cast(v) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v) for k, v in value.items()}
    return value


def implementations(name):
    """(label, category, expected key or None, fn) of every implementation swept for ``name``."""
    exercise = registry.get(name)
    found = [("reference", "valid", None, exercise.reference),
             ("reference, float64 result", "dtype fault", None, _float64(exercise.reference))]
    for v in exercise.variants:
        found.append((f"variant {v.key}", "variant", v.key, v.fn))
        found.append((f"variant {v.key}, float64 result", "dtype fault", None, _float64(v.fn)))
    for module in learners.modules():
        found += [(f"buggy {getattr(fn, '__name__', key)}", "buggy", key, fn)
                  for n, key, fn in module.BUGGY if n == name]
        found += [(f"valid {getattr(fn, '__name__', 'answer')}", "valid", None, fn)
                  for n, fn in module.VALID if n == name]
    return found


def classify(name, category, key, fn, hidden, seed):
    """The outcome kind of one check of ``fn`` (see :data:`KINDS`), with the verdict's key."""
    exercise = registry.get(name)
    result = local.verdict(name, fn, hidden=hidden, seed=seed)
    if result.passed:  # a dtype fault passes where every output is float64 anyway
        return ("undetected" if category in ("variant", "buggy") else "ok"), None
    if category == "valid":
        return "false failure", result.misconception
    named = next((v for v in exercise.variants if v.key == result.misconception), None)
    if named is None:
        return ("unnamed" if category in ("variant", "buggy") and key != result.misconception else "ok"), \
            result.misconception
    case = registry.cases(name, hidden, seed)[result.case]
    got, wrong = call_quietly(fn, case), call_quietly(named.fn, case)
    if not explains(wrong, got) or explains(wrong, call_quietly(exercise.reference, case)):
        return "misnamed", named.key
    if category in ("variant", "buggy") and named.key != key:
        return "named as another", named.key
    return "ok", named.key


def sweep_exercise(name, seeds):
    """Counts of outcome kinds per implementation of ``name`` over the public check and ``seeds``."""
    rows = []
    for label, category, key, fn in implementations(name):
        counts, examples = Counter(), defaultdict(list)
        for hidden, seed in [(False, None)] + [(True, s) for s in seeds]:
            kind, got = classify(name, category, key, fn, hidden, seed)
            counts[kind] += 1
            if kind != "ok" and len(examples[kind]) < 3:
                examples[kind].append(f"{'public' if not hidden else f'seed {seed}'}: {got}")
        rows.append((name, label, category, dict(counts), dict(examples)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="hidden seeds 0 … N-1 (default 200)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--only", nargs="*", help="exercises to sweep (default: all but given code)")
    args = parser.parse_args(argv)
    names = args.only or [n for n, e in registry.exercises().items() if not e.given_cells]
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = [row for rows in pool.map(sweep_exercise, names, [seeds] * len(names)) for row in rows]
    totals = Counter()
    print(f"| exercise | implementation | {' | '.join(KINDS)} | examples |")
    print("|---|---|" + "---|" * len(KINDS) + "---|")
    for name, label, category, counts, examples in results:
        totals.update({(category, k): v for k, v in counts.items()})
        if set(counts) - {"ok"}:
            cells = " | ".join(str(counts.get(k, 0)) for k in KINDS)
            notes = "; ".join(f"{k}: {', '.join(v)}" for k, v in examples.items())
            print(f"| {name} | {label} | {cells} | {notes} |")
    print(f"\n{len(results)} implementations of {len(names)} exercises, public check and {len(seeds)} hidden "
          f"seeds each, {time.perf_counter() - start:.0f} s\n")
    print(f"| category | {' | '.join(KINDS)} |")
    print("|---|" + "---|" * len(KINDS))
    for category in ("variant", "buggy", "valid", "dtype fault"):
        print(f"| {category} | " + " | ".join(str(totals.get((category, k), 0)) for k in KINDS) + " |")
    misnamed = sum(v for (c, k), v in totals.items() if k == "misnamed")
    print(f"\nmisnamings: {misnamed}")
    return 1 if misnamed else 0


if __name__ == "__main__":
    sys.exit(main())
