"""``make demo`` (``python -m demo``): the whole instructor pipeline on a synthetic class, in a fresh folder.

Release → a class of students as an LMS download (full marks, blank, one per
common mistake, misbehaving and tampering submissions, plus a few bad files) →
collect → autograde with two jobs → feedback → export → report. It prints the
class table, says whether every grade is the one the class was built to get,
and where the files are.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.pipeline import course as _course
from grader.pipeline.autograde import autograde, format_table
from grader.pipeline.collect import collect, summary
from grader.pipeline.export import export
from grader.pipeline.feedback import feedback
from grader.pipeline.release import release
from grader.pipeline.report import report
from grader.runtime.grade import Limits

from .students import add_messy_files, build_class, submission_times

#: The demo's default working folder (git-ignored), wiped at every run.
DEMO_DIR = _course.PROJECT_ROOT / "demo-course"
#: A file that marks a folder as the demo's own, so that a run never wipes anything else.
MARKER = ".grader-demo"
ASSIGNMENT = "01_attention_weights"


class DemoError(GraderError):
    """The demo cannot run (its folder belongs to something else) or a stage failed."""


@dataclass
class DemoResult:
    """What a demo run produced.

    Attributes
    ----------
    course_dir : pathlib.Path
    students : list of demo.students.DemoStudent
        The class as built, with the expected grades.
    collected : grader.pipeline.collect.CollectResult
    results : list of grader.pipeline.results.SubmissionResult
        What autograde produced.
    mismatches : list of str
        Every way a grade, a named mistake or a tamper flag differs from the expected one.
    files : dict
        ``feedback`` (list of paths), ``export`` (list of paths), ``report`` (path).
    seconds : dict
        Wall time of each stage.
    """

    course_dir: Path
    students: list
    collected: object
    results: list
    mismatches: list
    files: dict
    seconds: dict


def fresh_folder(path):
    """Create ``path`` empty; an existing folder is wiped only when it is a demo folder."""
    path = Path(path)
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise DemoError(f"{path} exists and is not a demo folder; choose another --course-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("Working folder of `python -m grader demo`; wiped by the next run.\n")
    return path


def compare(students, results):
    """Differences between the grades the class was built to get and the ones it got.

    Returns
    -------
    list of str
        Empty when every expected point, named mistake and tamper flag matches.
    """
    by_student = {r.student: r for r in results}
    problems = []
    for student in students:
        got = by_student.get(student.student)
        if got is None or not got.graded:
            problems.append(f"{student.student}: not graded ({got and got.reason})")
            continue
        exercises = {e.grade_id: e for e in got.exercises}
        for grade_id, points in student.expected.items():
            actual = exercises[grade_id].points if grade_id in exercises else None
            if actual != points:
                problems.append(f"{student.student}: {grade_id} got {actual}, expected {points}")
        for grade_id, key in student.misconceptions.items():
            actual = exercises[grade_id].misconception if grade_id in exercises else None
            if actual != key:
                problems.append(f"{student.student}: {grade_id} named {actual!r}, expected {key!r}")
        flagged = bool(got.tamper_signals)
        if flagged != student.tamper:
            problems.append(f"{student.student}: tamper signals {'seen' if flagged else 'not seen'}, "
                            f"expected {'some' if student.tamper else 'none'}")
    return problems


def class_table(students, results):
    """The demo's class table: who the student is meant to be, the score, and whether it is right."""
    by_student = {r.student: r for r in results}
    lines = [f"{'student':<12} {'auto':>6}  {'expected':<8}  submission"]
    for student in students:
        got = by_student.get(student.student)
        points = got.autograded_points if got else 0
        top = got.autograded_max if got else 0
        right = not compare([student], [got]) if got else False
        lines.append(f"{student.student:<12} {points:>3g}/{top:<2g}  {'✔' if right else '✘ differs':<8}  "
                     f"{student.description}")
    return "\n".join(lines)


def demo(course_dir=DEMO_DIR, *, jobs=2, cell_timeout=10.0, seed=None, out=sys.stdout):
    """Run the instructor pipeline on a synthetic class.

    Parameters
    ----------
    course_dir : path-like
        Working folder, created fresh (an earlier demo folder is wiped).
    jobs : int
        Submissions graded at the same time.
    cell_timeout : float
        Seconds one cell may run (the endless-loop student costs this once).
    seed : int, optional
        Seed of the hidden cases (default: fresh per submission).
    out : file
        Where the narration goes.

    Returns
    -------
    DemoResult
    """
    def say(text=""):
        print(text, file=out, flush=True)

    seconds = {}
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    course_dir = fresh_folder(Path(course_dir).resolve())
    say(f"1. release {ASSIGNMENT} into the demo course {course_dir}")
    released = course_dir / "release"
    release([ASSIGNMENT], notebooks=released, course_dir=course_dir)
    lap("release")

    downloads = course_dir / "downloads"
    students = build_class(downloads, ASSIGNMENT, notebooks=released)
    messy = add_messy_files(downloads, students)
    say(f"2. a class of {len(students)} students as an LMS download, "
        f"plus {len(messy)} bad files: {downloads}")
    lap("class")

    times = course_dir / "submissions.csv"  # the LMS's submission times, beside the download
    times.write_text(submission_times(downloads, messy))
    collected = collect(downloads, course_dir, assignments=[ASSIGNMENT], submission_times=times)
    say("3. collect: " + summary(collected, course_dir / "submitted"))
    for item in collected.skipped:
        say(f"   skipped {Path(item.origin).name}: {item.reason}")
    lap("collect")

    say(f"4. autograde with --jobs {jobs} (cell time limit {cell_timeout:g} s)")
    results = autograde([ASSIGNMENT], course_dir=course_dir, jobs=jobs, seed=seed,
                          limits=Limits(cell_timeout=cell_timeout))
    lap("autograde")
    handed_back = feedback([ASSIGNMENT], course_dir=course_dir)
    files = {"feedback": handed_back.written}
    for line in handed_back.withheld:
        say(f"   feedback withheld: {line}")
    lap("feedback")
    files["export"] = export(course_dir / "export", course_dir=course_dir).written
    lap("export")
    files["report"] = report(course_dir / "report.html", course_dir=course_dir)
    lap("report")

    mismatches = compare(students, results)
    say("\n" + format_table(results) + "\n")
    say(class_table(students, results))
    say("\nEvery grade is the expected one." if not mismatches else
        "\nGRADES THAT DIFFER FROM THE EXPECTED ONES:\n" + "\n".join("  " + m for m in mismatches))
    say(f"\nFeedback:   {course_dir / 'feedback'}/<student>/{ASSIGNMENT}/{ASSIGNMENT}.html "
        f"({len(files['feedback'])} files)")
    say("Grades:     " + ", ".join(str(p) for p in files["export"]))
    say(f"Report:     {files['report']}")
    say(f"Gradebook:  {course_dir / 'gradebook.db'}")
    say("Time:       " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
        + f"; total {sum(seconds.values()):.1f} s")
    return DemoResult(course_dir, students, collected, results, mismatches, files, seconds)


def main(argv=None) -> int:
    """``python -m demo``: run the demo; exit status 1 when a grade differs, 2 on an error."""
    parser = argparse.ArgumentParser(
        prog="python -m demo", description="Release, build a synthetic class (full marks, blank, common "
        "mistakes, misbehaving and tampering submissions), collect, autograde, feedback, export and "
        "report; print the class table and where the files are.")
    parser.add_argument("--course-dir",
                        help="working folder, wiped first (default: demo-course/ in the project)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at the same time "
                                                                  "(default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one cell may run "
                                                                    "(default: %(default)s)")
    parser.add_argument("--seed", type=int, help="seed of the hidden cases (default: fresh per submission)")
    args = parser.parse_args(argv)
    try:
        result = demo(args.course_dir or DEMO_DIR, jobs=args.jobs, cell_timeout=args.timeout, seed=args.seed)
    except GraderError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    return 1 if result.mismatches else 0
