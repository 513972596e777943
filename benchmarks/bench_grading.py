"""Grading a class: plain sequential `nbgrader autograde` versus `python -m grader autograde --jobs N`.

The class: N submissions of 01_attention_weights made of the demo class's well-behaved
students (full marks, blank, each named mistake), cycled under fresh ids; the misbehaving
and tampering ones are left out, because plain nbgrader cannot contain them and would only
measure its 30 s timeout. Each repetition grades the same class twice, each time in a fresh
course folder whose gradebook already knows the assignment (the release is not timed):

- ``nbgrader``: one ``nbgrader autograde 01_attention_weights`` process for the whole class
  (its own executor, one kernel per notebook, one after the other);
- ``grader``: one ``python -m grader autograde --jobs N`` process.

The order of the two alternates between repetitions. Every grade of both is compared with
the one the class was built to get (a *lost* grade is a submission without one, a *wrong*
grade a differing exercise). Our per-notebook overhead is the worker's wall time for a
submission minus the time its cells ran in the kernel (sandbox, kernel start, hidden checks,
verdicts).

Run: ``.venv/bin/python benchmarks/bench_grading.py [--students 40] [--repeat 5] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.students import ASSIGNMENT, build_class  # noqa: E402
from grader.pipeline import course, results  # noqa: E402
from grader.pipeline.export import export  # noqa: E402
from grader.pipeline.release import release  # noqa: E402


def make_class(folder, size):
    """Write ``size`` submissions into ``folder/submitted``; return {student id: expected points}."""
    students = [s for s in build_class(folder / "download", ASSIGNMENT) if not (s.tamper or s.misbehaves)]
    expected = {}
    for i in range(size):
        student = students[i % len(students)]
        sid = f"{student.student}{i:02d}"
        target = folder / "submitted" / sid / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(student.file, target / f"{ASSIGNMENT}.ipynb")
        expected[sid] = {k: float(v) for k, v in student.expected.items()}
    return expected


def fresh_course(class_dir, parent):
    """A course folder with the class's submissions and a gradebook that knows the assignment."""
    folder = Path(tempfile.mkdtemp(prefix="course-", dir=parent))
    shutil.copytree(class_dir / "submitted", folder / "submitted")
    release([ASSIGNMENT], notebooks=folder / "release", course_dir=folder)
    return folder


def run_nbgrader(folder):
    config = course.nbgrader_config(folder, notebooks=folder / "release")
    options = [f"--CourseDirectory.{key}={value}" for key, value in config.CourseDirectory.items()]
    command = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force", *options]
    return _timed(command, folder)


def run_grader(folder, jobs):
    command = [sys.executable, "-m", "grader", "autograde", ASSIGNMENT, "--jobs", str(jobs),
               "--course-dir", str(folder)]
    return _timed(command, folder)


def _timed(command, folder):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  {command[2]} exited {done.returncode}: {done.stderr[-500:]}", file=sys.stderr)
    return seconds


def grades(folder):
    """{student: {test grade id: points}} from the gradebook (through the exported CSV)."""
    out = folder / "export"
    export(out, course_dir=folder)
    with open(out / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["student_id"]: {k.split(" ")[0]: float(v) for k, v in row.items()
                                if k.startswith("test_") and v != ""} for row in rows}


def audit(got, expected):
    """(lost, wrong): submissions without a grade, and exercises graded differently than expected."""
    lost = [s for s in expected if not got.get(s)]
    wrong = [(s, k) for s in expected if got.get(s) for k, v in expected[s].items() if got[s].get(k) != v]
    return lost, wrong


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    course.nbgrader_environment()
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        expected = make_class(work / "class", args.students)
        times = {"nbgrader": [], "grader": []}
        problems = {"nbgrader": [0, 0], "grader": [0, 0]}
        overheads = []
        for rep in range(args.repeat):
            order = ["nbgrader", "grader"] if rep % 2 == 0 else ["grader", "nbgrader"]
            for variant in order:
                folder = fresh_course(work / "class", work)
                seconds = run_nbgrader(folder) if variant == "nbgrader" else run_grader(folder, args.jobs)
                lost, wrong = audit(grades(folder), expected)
                times[variant].append(seconds)
                problems[variant][0] += len(lost)
                problems[variant][1] += len(wrong)
                if variant == "grader":
                    overheads += [r.seconds - r.cell_seconds for r in results.load(folder)]
                print(f"rep {rep + 1} {variant:<8} {seconds:7.1f} s  lost {len(lost)}  wrong {len(wrong)}"
                      + (f"  e.g. {(lost or wrong)[:3]}" if lost or wrong else ""), flush=True)
                shutil.rmtree(folder, ignore_errors=True)
        plain, ours = statistics.median(times["nbgrader"]), statistics.median(times["grader"])
        n = args.students
        print(f"\n{n} submissions of {ASSIGNMENT}, {args.repeat} repetitions, medians:")
        print("| variant | wall (s) | s per notebook | notebooks per minute | lost grades | wrong grades |")
        print("|---|---|---|---|---|---|")
        for name, t in (("plain `nbgrader autograde` (sequential)", plain),
                        (f"`python -m grader autograde --jobs {args.jobs}`", ours)):
            key = "nbgrader" if name.startswith("plain") else "grader"
            print(f"| {name} | {t:.1f} | {t / n:.2f} | {60 * n / t:.1f} | {problems[key][0]} | "
                  f"{problems[key][1]} |")
        print(f"\nthroughput ratio (grader / nbgrader): {plain / ours:.2f}x (target >= 1.6x)")
        print(f"our overhead per notebook beyond its cells (worker wall - cell time): median "
              f"{statistics.median(overheads):.2f} s, max {max(overheads):.2f} s "
              f"over {len(overheads)} notebooks")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
