"""Grading a class: plain sequential nbgrader, ``python -m grader autograde --jobs N``, and the Dask path.

The class: N submissions of 01_attention_weights made of the demo class's well-behaved
students (full marks, blank, each named mistake), cycled under fresh ids; the misbehaving
and tampering ones are left out, because plain nbgrader cannot contain them and would only
measure its 30 s timeout. Each repetition grades the same class once per variant, each time
in a fresh course folder whose gradebook already knows the assignment (the release is not
timed), the order of the variants rotating between repetitions:

- ``nbgrader``: one ``nbgrader autograde 01_attention_weights`` process for the whole class
  (its own executor, one kernel per notebook, one after the other);
- ``jobs``: one ``python -m grader autograde --jobs N`` process;
- ``dask``: one ``python -m grader autograde --scheduler FILE`` process, grading on a loopback
  Dask cluster of N one-thread workers (``dask scheduler`` and ``dask worker`` processes,
  started before the timed command and stopped after it; a deployment starts them once).

Every command runs in a cgroup of its own (cgroup v1 ``cpuacct`` or v2, when this process
may create one), so its **CPU time** counts every process it started, kernels and the
cluster's workers included; on a shared machine the CPU time is far steadier than the wall
time. Every grade of every run is compared with the one the class was built to get (a *lost*
grade is a submission without one, a *wrong* grade a differing exercise).

**The floor** is the CPU time of the notebooks' cells themselves — each distinct submission
run once, as nbgrader runs it (its test cells restored from the source), in a fresh kernel
whose cells are timed by IPython's pre/post-run hooks — summed over the class and divided by
the cores: no grader that runs every cell of every notebook can beat it.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--students 40] [--repeat 5] [--jobs 2]``
(needs the ``dask`` extra for the Dask variant; ``--variants nbgrader,jobs`` leaves it out).
It prints each run as it ends, then the tables for ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

import nbformat  # noqa: E402

from demo.students import ASSIGNMENT, build_class  # noqa: E402
from grader.pipeline import course, results  # noqa: E402
from grader.pipeline.export import export  # noqa: E402
from grader.pipeline.release import release  # noqa: E402
from grader.runtime.notebook import is_test_cell, rebuild_from_source  # noqa: E402
from grader.sources import read_source  # noqa: E402

VARIANTS = ("nbgrader", "jobs", "dask")
#: Scheduler settings of the benchmark's cluster (those the README recommends).
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": 1,
                    "distributed.scheduler.worker-saturation": 1.0}


# ---- the class ---------------------------------------------------------------------------------

def make_class(folder: Path, size: int) -> tuple[dict, dict]:
    """Write ``size`` submissions into ``folder/submitted``.

    Returns
    -------
    expected : dict
        {student id: {test grade id: points}}.
    origin : dict
        {student id: the demo student's notebook it copies}.
    """
    students = [s for s in build_class(folder / "download", ASSIGNMENT) if not (s.tamper or s.misbehaves)]
    expected, origin = {}, {}
    for i in range(size):
        student = students[i % len(students)]
        sid = f"{student.student}{i:02d}"
        target = folder / "submitted" / sid / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(student.file, target / f"{ASSIGNMENT}.ipynb")
        expected[sid] = {k: float(v) for k, v in student.expected.items()}
        origin[sid] = student.file
    return expected, origin


def fresh_course(class_dir: Path, parent: Path) -> Path:
    """A course folder with the class's submissions and a gradebook that knows the assignment."""
    folder = Path(tempfile.mkdtemp(prefix="course-", dir=parent))
    shutil.copytree(class_dir / "submitted", folder / "submitted")
    release([ASSIGNMENT], notebooks=folder / "release", course_dir=folder)
    return folder


def grades(folder: Path) -> dict:
    """{student: {test grade id: points}} from the gradebook (through the exported CSV)."""
    out = folder / "export"
    export(out, course_dir=folder)
    with open(out / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["student_id"]: {k.split(" ")[0]: float(v) for k, v in row.items()
                                if k.startswith("test_") and v != ""} for row in rows}


def audit(got: dict, expected: dict) -> tuple[list, list]:
    """(lost, wrong): submissions without a grade, and exercises graded differently than expected."""
    lost = [s for s in expected if not got.get(s)]
    wrong = [(s, k) for s in expected if got.get(s) for k, v in expected[s].items() if got[s].get(k) != v]
    return lost, wrong


# ---- CPU time of a command and everything it starts --------------------------------------------

class CpuMeter:
    """A cgroup that the measured processes join; its CPU usage counts all their descendants.

    ``usage()`` is None when no cgroup can be made here (no cgroupfs, not allowed).
    """

    def __init__(self, name: str):
        self.group, self.v2 = None, False
        for base, v2 in ((Path("/sys/fs/cgroup/cpuacct"), False), (Path("/sys/fs/cgroup"), True)):
            marker = base / ("cgroup.controllers" if v2 else "cpuacct.usage")
            if marker.exists():
                with contextlib.suppress(OSError):
                    group = base / f"bench-grading-{os.getpid()}-{name}"
                    group.mkdir(exist_ok=True)
                    self.group, self.v2 = group, v2
                    break

    def add(self, pid: int) -> None:
        if self.group is not None:
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                (self.group / "cgroup.procs").write_text(str(pid))

    def enter(self) -> None:
        """For ``preexec_fn``: the starting process joins the group."""
        self.add(os.getpid())

    def usage(self) -> float | None:
        if self.group is None:
            return None
        if self.v2:
            stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.group is not None:
            with contextlib.suppress(OSError):
                self.group.rmdir()


def _tree(pids: list[int]) -> list[int]:
    """``pids`` and all their live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    found, stack = [], list(pids)
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


# ---- the variants ------------------------------------------------------------------------------

@dataclass
class Run:
    """One timed grading of the class."""

    variant: str
    wall: float
    cpu: float | None
    lost: list = field(default_factory=list)
    wrong: list = field(default_factory=list)
    load: float = 0.0
    overheads: list = field(default_factory=list)
    rep: int = 0


def _command(variant: str, folder: Path, jobs: int, scheduler: Path | None) -> list[str]:
    if variant == "nbgrader":
        config = course.nbgrader_config(folder, notebooks=folder / "release")
        options = [f"--CourseDirectory.{key}={value}" for key, value in config.CourseDirectory.items()]
        return [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force", *options]
    command = [sys.executable, "-m", "grader", "autograde", ASSIGNMENT, "--course-dir", str(folder)]
    return command + (["--scheduler", str(scheduler)] if variant == "dask" else ["--jobs", str(jobs)])


@contextlib.contextmanager
def _cluster(variant: str, workers: int, meter: CpuMeter):
    """The loopback Dask cluster of the ``dask`` variant (nothing for the others).

    Its processes join ``meter``.
    """
    if variant != "dask":
        yield None
        return
    from dask_cluster import dask_cluster

    with dask_cluster(workers=workers, config=SCHEDULER_CONFIG) as cluster:
        for pid in _tree([cluster.scheduler_pid, *cluster.nanny_pids]):
            meter.add(pid)
        yield cluster.scheduler_file


def run_variant(variant: str, class_dir: Path, work: Path, expected: dict, jobs: int) -> Run:
    """Grade the class once with ``variant`` in a fresh course folder; time it and audit its grades."""
    folder = fresh_course(class_dir, work)
    meter = CpuMeter(variant)
    try:
        with _cluster(variant, jobs, meter) as scheduler:
            load = os.getloadavg()[0]
            before = meter.usage()
            start = time.perf_counter()
            done = subprocess.run(_command(variant, folder, jobs, scheduler), capture_output=True, text=True,
                                  cwd=folder, preexec_fn=meter.enter)
            wall = time.perf_counter() - start
            after = meter.usage()
        if done.returncode != 0:
            print(f"  {variant} exited {done.returncode}: {done.stderr[-800:]}", file=sys.stderr)
        lost, wrong = audit(grades(folder), expected)
        overheads = ([r.seconds - r.cell_seconds for r in results.load(folder)]
                     if variant != "nbgrader" else [])
        cpu = None if before is None else after - before
        return Run(variant, wall, cpu, lost, wrong, load, overheads)
    finally:
        meter.close()
        shutil.rmtree(folder, ignore_errors=True)


# ---- the floor: the cells' own CPU time ---------------------------------------------------------

HOOKS = '''import time as __grader_bench_time
__grader_bench_cpu = []
def __grader_bench_pre(info=None):
    __grader_bench_cpu.append(-__grader_bench_time.process_time())
def __grader_bench_post(result=None):
    if __grader_bench_cpu:
        __grader_bench_cpu[-1] += __grader_bench_time.process_time()
get_ipython().events.register("pre_run_cell", __grader_bench_pre)
get_ipython().events.register("post_run_cell", __grader_bench_post)'''
REPORT = "import json as __j; print(__j.dumps(__grader_bench_cpu[:-1]))"


def cells_cpu(notebook: Path) -> dict[str, float]:
    """CPU seconds of the code cells of ``notebook`` as nbgrader runs them, in a fresh kernel.

    The test cells are restored from the source (hidden tests included); the kernel is a
    plain one, as nbgrader starts it; the hooks themselves are not counted.

    Returns
    -------
    dict
        ``setup`` (the first code cell: the imports), ``tests`` (the test cells) and ``other``.
    """
    from nbclient import NotebookClient

    nb = rebuild_from_source(nbformat.read(notebook, as_version=4), read_source(ASSIGNMENT)).notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [nbformat.v4.new_code_cell(HOOKS), *code, nbformat.v4.new_code_cell(REPORT)]
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": folder}},
                       allow_errors=True).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    seconds = json.loads(printed.strip().splitlines()[-1])
    tests = sum(t for t, cell in zip(seconds[1:], code[1:], strict=True) if is_test_cell(cell))
    return {"setup": seconds[0], "tests": tests, "other": sum(seconds) - seconds[0] - tests}


def floor(origin: dict) -> dict[str, float]:
    """The cells' CPU seconds summed over the class (each distinct notebook run once)."""
    per_file = {path: cells_cpu(path) for path in sorted(set(origin.values()))}
    return {part: sum(per_file[path][part] for path in origin.values())
            for part in ("setup", "tests", "other")}


# ---- report ------------------------------------------------------------------------------------

def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, digits=1):
    return "—" if value is None else f"{value:.{digits}f}"


def _paired(runs: list[Run], top: str, bottom: str, measure: str) -> list[float]:
    """``top``'s ``measure`` over ``bottom``'s, for each repetition that has both."""
    at = {(r.variant, r.rep): getattr(r, measure) for r in runs}
    return [at[top, rep] / at[bottom, rep] for rep in sorted({r.rep for r in runs})
            if at.get((top, rep)) and at.get((bottom, rep))]


def _spread(values: list[float], unit: str) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}–{max(values):.2f})"


def report(runs: list[Run], n: int, jobs: int, cores: int, cells: dict) -> str:
    """The markdown tables: medians per variant, ratios, the floor, lost and wrong grades."""
    by = {v: [r for r in runs if r.variant == v] for v in VARIANTS}
    by = {v: rs for v, rs in by.items() if rs}
    names = {"nbgrader": "plain `nbgrader autograde` (sequential)",
             "jobs": f"`python -m grader autograde --jobs {jobs}`",
             "dask": f"`python -m grader autograde --scheduler` ({jobs} local Dask workers)"}
    wall = {v: _median([r.wall for r in rs]) for v, rs in by.items()}
    cpu = {v: _median([r.cpu for r in rs]) for v, rs in by.items()}
    lines = [f"{n} submissions of {ASSIGNMENT}, {len(next(iter(by.values())))} repetitions, medians "
             f"({cores} cores):", "",
             "| variant | wall (s) | s per notebook | notebooks per minute | CPU (s) | CPU-s per notebook "
             "| load average | lost grades | wrong grades |",
             "|---|---|---|---|---|---|---|---|---|"]
    for v, rs in by.items():
        lines.append(f"| {names[v]} | {wall[v]:.1f} | {wall[v] / n:.2f} | {60 * n / wall[v]:.1f} | "
                     f"{_fmt(cpu[v])} | {_fmt(cpu[v] and cpu[v] / n, 2)} | "
                     f"{_median([r.load for r in rs]):.1f} | {sum(len(r.lost) for r in rs)} | "
                     f"{sum(len(r.wrong) for r in rs)} |")
    lines += ["", "Runs (wall s / CPU s): " + "; ".join(
        f"{v} " + ", ".join(f"{r.wall:.0f}/{_fmt(r.cpu, 0)}" for r in rs) for v, rs in by.items()), ""]
    lines += ["| ratio | wall clock: of the medians | wall clock: per repetition, median (min–max) "
              "| CPU projection: of the medians | CPU projection: per repetition, median (min–max) |",
              "|---|---|---|---|---|"]
    pairs = [(f"{v} / plain nbgrader (throughput)", "nbgrader", v, cores, "×") for v in ("jobs", "dask")]
    pairs.append((f"dask / --jobs {jobs} (time, lower is better)", "dask", "jobs", 1, ""))
    for label, top, bottom, scale, unit in pairs:
        if top not in by or bottom not in by:
            continue
        cpu_of_medians = scale * cpu[top] / cpu[bottom] if cpu.get(top) and cpu.get(bottom) else None
        wall_pairs = _paired(runs, top, bottom, "wall")
        cpu_pairs = [scale * r for r in _paired(runs, top, bottom, "cpu")]
        lines.append(f"| {label} | {wall[top] / wall[bottom]:.2f}{unit} | {_spread(wall_pairs, unit)} | "
                     f"{_fmt(cpu_of_medians, 2)}{unit} | {_spread(cpu_pairs, unit)} |")
    lines += ["", "The CPU projection assumes plain nbgrader keeps one core busy and ours all "
                  f"{cores}: plain CPU-s per notebook × {cores} / ours. Per repetition: the ratio of the "
                  "two runs of the same repetition (run a few minutes apart, so in the same state of "
                  "a shared machine), then the median over the repetitions."]
    if cells:
        per_nb = sum(cells.values()) / n
        lines += ["", f"Floor: the cells as nbgrader runs them take {per_nb:.2f} CPU-s per notebook "
                      f"(setup cell's imports {cells['setup'] / n:.2f}, test cells with the hidden checks "
                      f"{cells['tests'] / n:.2f}, "
                      f"the other cells {cells['other'] / n:.2f}), so {per_nb / cores:.2f} s per notebook on "
                      f"{cores} cores."]
        for v in ("jobs", "dask"):
            if cpu.get(v):
                lines.append(f"{v}: {cpu[v] / n:.2f} CPU-s per notebook in all, "
                             f"{cpu[v] / n / per_nb:.2f}× the "
                             "cells' own.")
        if cpu.get("nbgrader"):
            best = cores * cpu["nbgrader"] / sum(cells.values())
            lines.append(f"Best throughput the floor allows: {best:.2f}× "
                         "plain nbgrader (CPU).")
    overheads = [o for r in runs for o in r.overheads]
    if overheads:
        lines += ["", f"Our overhead per notebook beyond its cells (worker wall − cell time): median "
                      f"{statistics.median(overheads):.2f} s, max {max(overheads):.2f} s over "
                      f"{len(overheads)} "
                      "notebooks."]
    return "\n".join(lines)


def report_saved(path: Path) -> str:
    """The tables of a run saved with ``--json``."""
    saved = json.loads(path.read_text())
    runs = [Run(**{k: v for k, v in r.items() if k in Run.__dataclass_fields__}) for r in saved["runs"]]
    variants = list(dict.fromkeys(r.variant for r in runs))
    for i, run in enumerate(runs):  # files written before runs carried their repetition
        run.rep = run.rep or i // len(variants) + 1
    cores = saved.get("cores", os.cpu_count() or 1)
    return report(runs, saved.get("students", 40), saved.get("jobs", 2), cores, saved.get("cells") or {})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="local worker processes, and Dask workers")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--no-floor", dest="floor", action="store_false", help="skip measuring the cells")
    parser.add_argument("--json", help="also write every run to this file")
    parser.add_argument("--report", metavar="JSON", help="print the tables of a run saved with --json; stop")
    args = parser.parse_args(argv)
    if args.report:
        print(report_saved(Path(args.report)))
        return
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose among {VARIANTS}")
    course.nbgrader_environment()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        expected, origin = make_class(work / "class", args.students)
        cells = floor(origin) if args.floor else {}
        if cells:
            print("cells, CPU-s per notebook: "
                  + ", ".join(f"{k} {v / args.students:.2f}" for k, v in cells.items()),
                  flush=True)
        runs = []
        for rep in range(args.repeat):
            order = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for variant in order:
                run = run_variant(variant, work / "class", work, expected, args.jobs)
                run.rep = rep + 1
                runs.append(run)
                problems = run.lost or run.wrong
                print(f"rep {rep + 1} {variant:<8} {run.wall:7.1f} s  CPU {_fmt(run.cpu)} s  "
                      f"load {run.load:.1f}  "
                      f"lost {len(run.lost)}  wrong {len(run.wrong)}"
                      + (f"  e.g. {problems[:3]}" if problems else ""), flush=True)
        print()
        print(report(runs, args.students, args.jobs, cores, cells))
        if args.json:
            saved = {"students": args.students, "jobs": args.jobs, "cores": cores, "cells": cells,
                     "runs": [vars(r) for r in runs]}
            Path(args.json).write_text(json.dumps(saved, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
