"""Does ``python -m grader autograde --scheduler`` grade a class on a real Dask cluster, losing nothing?

Each test starts a scheduler and workers of its own on loopback (``dask scheduler`` and
``dask worker`` processes, tests/support/dask_cluster.py) and stops them at the end. The class
is the demo class's: the grades it must get are known.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import distributed
import pytest
from dask_cluster import _alive, _tree, dask_cluster
from dask_tasks import WORKER_ENV, kill_worker_or_echo

from demo.students import ASSIGNMENT, build_class
from grader.errors import AutogradeError
from grader.pipeline import autograde, course, results
from grader.pipeline import distributed as dist
from grader.runtime.grade import Limits

#: The settings the README recommends for a grading cluster.
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": 1,
                    "distributed.scheduler.worker-saturation": 1.0}
SEED = 11


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    return {s.student: s for s in build_class(tmp_path_factory.mktemp("download"), ASSIGNMENT)}


def _course(parent: Path, students, names) -> Path:
    folder = parent / f"course-{len(list(parent.iterdir()))}"
    for name in names:
        target = folder / "submitted" / name / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(students[name].file, target / f"{ASSIGNMENT}.ipynb")
    return folder


def _grader(*args):
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=1200,
                          cwd=course.PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _exercise_csv(course_dir):
    _grader("export", "--course-dir", str(course_dir))
    with open(course_dir / "export" / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _points(course_dir):
    """{student: {test grade id: points}} of the saved results."""
    return {r.student: {e.grade_id: e.points for e in r.exercises}
            for r in results.load(course_dir, ASSIGNMENT)}


def _summary(course_dir):
    """{student: (named mistakes, (cell, kind) of the incidents)} of the saved results."""
    return {r.student: ([e.misconception for e in r.exercises], [(i.cell, i.kind) for i in r.incidents])
            for r in results.load(course_dir, ASSIGNMENT)}


def _removals(client, address):
    """The scheduler's remove-worker events of one worker (with the keys it was running)."""
    return [event for _, event in client.get_events(address)
            if isinstance(event, dict) and event.get("action") == "remove-worker"]


def test_a_class_graded_on_the_cluster_gets_exactly_the_grades_of_jobs_1(tmp_path, students):
    """Full marks, blank, two named mistakes and a kernel killer, through a scheduler and two workers:
    the same gradebook, points, named mistakes and incidents as --jobs 1, every task run by the cluster?"""
    names = ["ada", "cleo", "dev", "gus", "lea"]
    local, remote = _course(tmp_path, students, names), _course(tmp_path, students, names)
    _grader("autograde", "--course-dir", str(local), "--jobs", "1", "--seed", str(SEED))
    with dask_cluster(workers=2, config=SCHEDULER_CONFIG) as cluster:
        _grader("autograde", "--course-dir", str(remote), "--scheduler", str(cluster.scheduler_file),
                "--seed", str(SEED))
        with distributed.Client(cluster.address, set_as_default=False) as client:
            ran = client.run_on_scheduler(
                lambda dask_scheduler: sorted({str(t[0]) for t in dask_scheduler.transition_log
                                               if str(t[0]).startswith("grade-")}))
    assert len(ran) == len(names)
    assert all(key.endswith(f"-{ASSIGNMENT}-{n}") for key, n in zip(ran, sorted(names), strict=True))
    assert _exercise_csv(remote) == _exercise_csv(local)
    assert _points(remote) == _points(local) == {n: students[n].expected for n in names}
    summary = _summary(remote)
    assert summary == _summary(local)
    assert summary["lea"][1]  # the kernel killer's incidents came back from the worker


def test_a_task_needs_nothing_of_the_instructors_machine(tmp_path, students):
    """Is a submission graded on a worker from its task alone, the course and the sources gone?"""
    solutions = tmp_path / "solutions"
    shutil.copytree(course.SOLUTIONS, solutions)
    folder = _course(tmp_path, students, ["gus"])
    notebook = folder / "submitted" / "gus" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    (notebook.parent / "notes.txt").write_text("a side file")
    task = autograde.make_task(autograde.Submission("gus", ASSIGNMENT, notebook), key="gus",
                               solutions=solutions,
                               seed=3, limits=Limits(), sandbox=True)
    shutil.rmtree(folder)
    shutil.rmtree(solutions)
    assert task.files == {"notes.txt": b"a side file"}
    with dask_cluster(workers=1, config=SCHEDULER_CONFIG) as cluster:
        with distributed.Client(cluster.address, set_as_default=False) as client:
            outcome = client.submit(autograde.grade_task, task, key="grade-gus", pure=False).result()
    assert outcome.key == "gus" and outcome.result.graded
    assert {e.grade_id: e.points for e in outcome.result.exercises} == students["gus"].expected
    assert '"test_attention_weights"' in outcome.pregraded


def _kernel_running(pids):
    """Is a kernel forked by a template among the processes ``pids`` (a template with a child)?"""
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"grader.kernel.template" in command and len(_tree([pid])) > 1:
            return True
    return False


def test_a_worker_killed_mid_run_loses_no_grade_and_none_is_scored_twice(tmp_path, students, monkeypatch):
    """SIGKILL one of two workers while its kernel runs a notebook: is every submission still graded,
    exactly as the class must be, and scored once, and did the dead worker's kernel die with it?"""
    names = ["ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hana"]
    folder = _course(tmp_path, students, names)
    scored = Counter()
    real_score = autograde._score_one

    def counting(api, settings, result, bar):
        scored[result.student] += 1
        return real_score(api, settings, result, bar)

    monkeypatch.setattr(autograde, "_score_one", counting)
    killed = {}
    with dask_cluster(workers=2, config=SCHEDULER_CONFIG) as cluster:
        victim_address, victim = next(iter(cluster.worker_pids().items()))

        def kill_mid_run():
            with distributed.Client(cluster.address, set_as_default=False) as client:
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    tree = _tree([victim])
                    if client.processing().get(victim_address) and _kernel_running(tree):
                        killed["tree"] = tree
                        os.kill(victim, 9)
                        return
                    time.sleep(0.05)

        killer = threading.Thread(target=kill_mid_run)
        killer.start()
        done = autograde.autograde(course_dir=folder, scheduler=str(cluster.scheduler_file), seed=SEED,
                                   progress=False)
        killer.join()
        with distributed.Client(cluster.address, set_as_default=False) as client:
            removed = _removals(client, victim_address)
    assert "tree" in killed, "the victim never ran a kernel"
    assert len(removed) == 1 and len(removed[0]["processing-tasks"]) == 1  # it was grading when it died
    assert {r.student: {e.grade_id: e.points for e in r.exercises} for r in done} == \
           {n: students[n].expected for n in names}
    assert all(r.graded and r.score is not None for r in done)
    assert scored == Counter(names)
    rows = _exercise_csv(folder)
    assert sorted(rows) == sorted(names)
    # the dead worker's template, its bubblewrap and its kernel did not outlive it
    deadline = time.monotonic() + 60
    while _alive(killed["tree"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(killed["tree"]) == []


def test_a_submission_that_takes_its_worker_down_every_time_is_an_incident_after_bounded_tries():
    """A task that SIGKILLs its worker, among ordinary ones: is it tried allowed-failures + 1 times with
    the others, as often again alone, then recorded as a worker_died incident, while every other task
    is handed on once?"""
    tasks = [autograde.GradingTask(f"t{i}", f"s{i}", ASSIGNMENT, f"s{i}.ipynb", b"{}", "{}", seed=i)
             for i in range(6)]
    tasks.insert(2, autograde.GradingTask("p", "poison", ASSIGNMENT, "poison.ipynb", b"{}", "{}", seed=0))
    handed = Counter()
    outcomes = {}

    def on_result(task, outcome):
        handed[task.key] += 1
        outcomes[task.key] = outcome

    allowed = SCHEDULER_CONFIG["distributed.scheduler.allowed-failures"]
    with dask_cluster(workers=2, config=SCHEDULER_CONFIG, env=WORKER_ENV) as cluster:
        with distributed.Client(cluster.address, set_as_default=False) as client:
            run = dist.run_on_cluster(client, tasks, on_result, function=kill_worker_or_echo)
            events = [e for address in client.get_events() if address.startswith("tcp://")
                      for e in _removals(client, address)]
            assert len(cluster.worker_pids()) == 2  # the nannies brought their workers back
    assert run.allowed_failures == allowed and run.alone == ["p"] and run.duplicates == 0
    with_others = [e for e in events if "grade-p" in e["processing-tasks"]]
    alone = [e for e in events if "grade-p-alone" in e["processing-tasks"]]
    assert len(with_others) == len(alone) == allowed + 1
    assert all(list(e["processing-tasks"]) == ["grade-p-alone"] for e in alone)
    assert handed == Counter(t.key for t in tasks)
    poisoned = outcomes["p"].result
    assert poisoned.status == "error" and [i.kind for i in poisoned.incidents] == ["worker_died"]
    assert f"down {2 * (allowed + 1)} times" in poisoned.reason
    assert all(outcomes[t.key].result.graded for t in tasks if t.key != "p")


def test_a_scheduler_that_is_not_there_or_a_worker_without_bubblewrap_is_refused(tmp_path, students):
    """Do a missing scheduler file, an unreachable address and a worker that has no sandbox each stop
    the run before anything is graded, with one clear message?"""
    with pytest.raises(AutogradeError, match="neither a scheduler address"):
        dist.connect(str(tmp_path / "no-such-file.json"))
    with pytest.raises(AutogradeError, match="cannot reach the Dask scheduler"):
        dist.connect("tcp://127.0.0.1:9", timeout=2)
    folder = _course(tmp_path, students, ["ada"])
    no_bwrap = {"PATH": "/nonexistent"}  # no bwrap found: as a worker machine without bubblewrap
    with dask_cluster(workers=1, config=SCHEDULER_CONFIG, env=no_bwrap) as cluster:
        with pytest.raises(AutogradeError, match="no working bubblewrap"):
            autograde.autograde(course_dir=folder, scheduler=cluster.address, progress=False)
    assert not (folder / "gradebook.db").exists() and not results.load(folder)
