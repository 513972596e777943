"""Compute the public checks' data that ships inside the student package.

For every exercise: the public cases (inputs and how they read), the expected value of each
case from the reference, and the output of each known mistake on it — what
:func:`attention_course.check` needs to judge a learner's function and name the mistake
without any reference code. ``python -m grader release`` writes it; a test keeps the
committed file equal to a fresh build.
"""

from __future__ import annotations

import json
from pathlib import Path

import attention_course
from attention_course import record as _record
from attention_course.given import COMPARISONS

from . import registry
from .exercise import Exercise
from .judge import call_quietly, describe, wrong_outputs

#: Where the student package reads its public-check data.
DATA_PATH = Path(attention_course.__file__).resolve().parent / "data" / "public_checks.json"
#: Version of the data layout.
VERSION = 1


def _spec(exercise: Exercise) -> dict:
    spec = exercise.spec
    return {"name": spec.name, "parameters": list(spec.parameters),
            "returns": list(spec.returns) if spec.returns is not None else None,
            "mistakes": [{"key": m.key, "label": m.label, "hint": m.hint} for m in spec.mistakes],
            "tolerance": spec.tolerance, "hints": dict(spec.hints), "measure_memory": spec.measure_memory}


def _comparison_name(exercise: Exercise) -> str:
    names = [name for name, fn in COMPARISONS.items() if fn is exercise.compare]
    if not names:
        raise ValueError(f"{exercise.name}: its compare function is not one of "
                         "attention_course.given.COMPARISONS, so the public check cannot run it")
    return names[0]


def exercise_data(exercise: Exercise) -> dict:
    """The public-check data of one exercise (JSON-compatible)."""
    entry = {"spec": _spec(exercise), "comparison": None, "cases": []}
    if exercise.compare is not None:
        entry["comparison"] = _comparison_name(exercise)
        given = registry.given_sources(exercise.notebook)
        entry["given"] = [given[g] for g in exercise.given_cells]
    for case in registry.cases(exercise.name, hidden=False):
        item = {"args": _record.encode(tuple(case.args)), "kwargs": _record.encode(dict(case.kwargs)),
                "description": describe(exercise.reference, case)}
        if exercise.compare is None:
            item["expected"] = _record.encode(call_quietly(exercise.reference, case))
            item["wrong"] = {mistake.key: _record.encode(output)
                             for mistake, output in wrong_outputs(exercise, case)}
        bound = exercise.memory_limit(case)
        if bound is not None:
            item["peak_limit"] = {"limit": bound.limit, "message": bound.message}
        entry["cases"].append(item)
    return entry


def build() -> dict:
    """The public-check data of every exercise of the course."""
    return {"version": VERSION,
            "exercises": {name: exercise_data(ex) for name, ex in sorted(registry.exercises().items())}}


def dumps(data: dict) -> str:
    """The data as the committed file holds it (stable: sorted keys, one line per exercise)."""
    lines = [f"{json.dumps(name)}: {json.dumps(entry, sort_keys=True)}"
             for name, entry in data["exercises"].items()]
    body = ",\n".join(lines)
    return f'{{"version": {data["version"]}, "exercises": {{\n{body}\n}}}}\n'


def write(path: Path = DATA_PATH) -> Path:
    """Build the data and write it to ``path`` (the student package's data file by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(build()), encoding="utf-8")
    return path
