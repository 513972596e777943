"""The command line: ``python -m grader COMMAND``."""

from __future__ import annotations

import argparse
import sys


def build_parser():
    """The argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check", help="grade one notebook with the hidden tests and explain every failure",
        description="Run your notebook in a fresh kernel with the full hidden tests of its assignment "
                    "and report each exercise.")
    check.add_argument("notebook", help="path of the .ipynb file")
    check.add_argument("--json", action="store_true", help="print the report as one JSON object")
    check.add_argument("--seed", type=int, help="seed of the hidden cases (to reproduce a report)")
    check.add_argument("--solutions", help="folder of the source notebooks (default: the course's)")
    check.set_defaults(run=_run_check)

    release = commands.add_parser(
        "release", help="generate notebooks/ (the student versions) from solutions/ with nbgrader",
        description="Generate the student version of each assignment with nbgrader's generate_assignment: "
                    "solutions replaced by stubs, hidden tests and outputs removed.")
    release.add_argument("assignments", nargs="*", help="assignments to release (default: all)")
    _course_options(release)
    release.set_defaults(run=_run_release)

    from .collect import DESCRIPTION as collect_description
    from .collect import HELP as collect_help
    from .collect import add_arguments as collect_arguments

    collect = commands.add_parser("collect", help=collect_help, description=collect_description)
    collect_arguments(collect)
    _course_options(collect)
    collect.set_defaults(run=_run_module("collect"))

    autograde = commands.add_parser(
        "autograde", help="grade every collected submission with nbgrader, N at a time, in a sandbox",
        description="Execute each submission in its own sandboxed kernel (N at a time), judge it with the "
                    "hidden tests outside the kernel, then let nbgrader score it into the gradebook. A "
                    "submission that hangs, crashes or floods its output loses only the exercises it broke.")
    autograde.add_argument("assignments", nargs="*", help="assignments to grade (default: all collected)")
    autograde.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at the same time "
                                                                     "(default: %(default)s)")
    autograde.add_argument("--student", action="append", help="grade only this student (repeatable)")
    autograde.add_argument("--timeout", type=float, default=30.0,
                           help="seconds one cell may run (default: %(default)s)")
    autograde.add_argument("--memory", type=float, default=2048,
                           help="memory limit of one kernel in MiB (default: %(default)s)")
    autograde.add_argument("--output-limit", type=int, default=1_000_000,
                           help="characters of output kept per cell (default: %(default)s)")
    autograde.add_argument("--retries", type=int, default=2,
                           help="extra attempts when a kernel fails to start (default: %(default)s)")
    autograde.add_argument("--seed", type=int, help="seed of the hidden cases for every submission "
                                                    "(default: a fresh one each, recorded)")
    _course_options(autograde)
    autograde.set_defaults(run=_run_autograde)

    feedback = commands.add_parser(
        "feedback", help="per-student HTML feedback (named mistakes, plots; no hidden tests)",
        description="Generate each autograded student's feedback HTML with nbgrader, hidden tests removed, "
                    "into <course-dir>/feedback/<student>/<assignment>/.")
    feedback.add_argument("assignments", nargs="*", help="assignments (default: all autograded)")
    _course_options(feedback)
    feedback.set_defaults(run=_run_module("feedback"))

    export = commands.add_parser(
        "export", help="grades as CSV: nbgrader's grades.csv and a student × exercise table",
        description="Write nbgrader's grades.csv and exercises-<assignment>.csv (one row per student, one "
                    "column per graded cell).")
    export.add_argument("--out", help="folder for the CSV files (default: <course-dir>/export)")
    _course_options(export)
    export.set_defaults(run=_run_module("export"))

    report = commands.add_parser(
        "report", help="a class report (HTML): pass rates, common mistakes, tampering, incidents",
        description="Write an HTML report for the instructor from the last autograde run.")
    report.add_argument("assignments", nargs="*", help="assignments (default: all autograded)")
    report.add_argument("--out", help="HTML file (default: <course-dir>/report.html)")
    _course_options(report)
    report.set_defaults(run=_run_module("report"))

    demo = commands.add_parser(
        "demo", help="the whole instructor pipeline on a synthetic class, in a fresh folder",
        description="Release, build a synthetic class (full marks, blank, common mistakes, misbehaving and "
                    "tampering submissions), collect, autograde, feedback, export and report; print the "
                    "class table and where the files are. Exit status 1 if a grade is not the expected one.")
    demo.add_argument("--course-dir",
                      help="working folder, wiped first (default: demo-course/ in the project)")
    demo.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at the same time "
                                                                "(default: %(default)s)")
    demo.add_argument("--timeout", type=float, default=10.0, help="seconds one cell may run "
                                                                  "(default: %(default)s)")
    demo.add_argument("--seed", type=int, help="seed of the hidden cases (default: fresh per submission)")
    demo.set_defaults(run=_run_module("demo"))
    return parser


def _course_options(parser):
    from .course import COURSE

    parser.add_argument("--course-dir", default=str(COURSE),
                        help="working course folder: submissions, feedback, gradebook (default: %(default)s)")
    parser.add_argument("--db-url", help="SQLAlchemy URL of the gradebook "
                                         "(default: sqlite in the course folder)")


def _run_check(args):
    from .selfcheck import main

    return main(args)


def _run_release(args):
    from .release import main

    return main(args)


def _run_autograde(args):
    from .autograde import main

    return main(args)


def _run_module(name):
    """The ``main(args)`` of module ``grader.<name>``, imported only when the command runs."""

    def run(args):
        import importlib

        return importlib.import_module(f"grader.{name}").main(args)

    return run


def main(argv=None):
    """Parse ``argv`` and run the chosen command; return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
