"""The command line: ``python -m grader COMMAND``.

Each command parses its arguments here, calls one library function and prints what it did.
Every error a command reports derives from :class:`grader.errors.GraderError`; :func:`main`
prints it as ``grader <command>: <message>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import GraderError, UsageError
from .pipeline import collect as _collect
from .pipeline import course as _course
from .runtime.grade import Limits, check_notebook

COLLECT_HELP = "gather downloaded student notebooks (LMS download or nbgrader tree) into submitted/"

COLLECT_DESCRIPTION = """\
Copy the student notebooks found anywhere under DIR into the course's
submitted/<student>/<assignment>/<assignment>.ipynb (with nbgrader's timestamp.txt),
ready for autograding. The student id and assignment are read from the path:

  <student>/<assignment>/<assignment>.ipynb      nbgrader's tree (also under submitted/)
  <name>[_LATE]_<userid>_<fileid>_<assignment>[-N].ipynb   Canvas (student = name; the
                                                 user id and LATE flag are kept for export)
  <student>_<assignment>[-N].ipynb   <student>-<assignment>[-N].ipynb
  <assignment>-<student>.ipynb   <assignment>_<student>.ipynb

Student ids are lower-cased and spaces become _; ids with characters other than
letters, digits and ._-@+ are rejected. Files that are not notebooks, are corrupt, name no known assignment or
student, hold another assignment's cells, or duplicate a more recent file of the same
student and assignment are listed as skipped with the reason; they never stop the run.

Submission times (what nbgrader's late penalty needs) are the LMS's only, from
--submissions FILE: a CSV with a submitted_at column (ISO 8601 with a zone, e.g.
2026-03-01T13:00:00Z) and a file, user_id (Canvas) or student column, optionally
assignment. A file's modification time is never used; nor is a timestamp.txt
found in a student's folder.
Exit status: 0 when DIR was read (even with skipped files), 2 when DIR is not a folder.
"""


def _course_options(parser, db=True, config=True):
    parser.add_argument("--course-dir", default=str(_course.COURSE),
                        help="working course folder: submissions, feedback, gradebook (default: %(default)s)")
    if db:
        parser.add_argument("--db-url", help="SQLAlchemy URL of the gradebook, e.g. "
                                             "postgresql://user:password@host/db (default: the "
                                             "configuration's, else sqlite in the course folder)")
    if config:
        parser.add_argument("--course-id", help="nbgrader course id (default: the configuration's, "
                                                "else default_course)")
        parser.add_argument("--config", metavar="FILE", dest="config_file",
                            help="an nbgrader configuration file, read as stock nbgrader's "
                                 "--NbGrader.config_file (the current folder's and the course folder's "
                                 "nbgrader_config.py are read after it)")


def _config_kwargs(args) -> dict:
    """The course options of a parsed command line, as keyword arguments of a pipeline function."""
    return {"course_dir": args.course_dir, "db_url": args.db_url, "course_id": args.course_id,
            "config_file": args.config_file}


def build_parser() -> argparse.ArgumentParser:
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
    check.set_defaults(run=run_check)

    release = commands.add_parser(
        "release", help="generate notebooks/ (the student versions) from solutions/ with nbgrader",
        description="Generate the student version of each assignment with nbgrader's generate_assignment: "
                    "solutions replaced by stubs, hidden tests and outputs removed; and the data of the "
                    "public checks that the student package ships.")
    release.add_argument("assignments", nargs="*", help="assignments to release (default: all)")
    release.add_argument("--due", metavar="WHEN",
                         help='due date recorded in the gradebook, as nbgrader\'s --duedate: '
                              '"2026-03-01 12:00:00 UTC", "2026-03-01 13:00 Europe/Paris" (no zone: UTC); '
                              "default: keep the gradebook's")
    _course_options(release)
    release.set_defaults(run=run_release)

    collect = commands.add_parser("collect", help=COLLECT_HELP, description=COLLECT_DESCRIPTION,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    collect.add_argument("source", metavar="DIR", help="folder of downloaded student notebooks "
                                                       "(searched recursively)")
    collect.add_argument("--assignment", action="append", metavar="NAME",
                         help="collect only this assignment (repeatable; default: all)")
    collect.add_argument("--submissions", metavar="FILE",
                         help="the LMS's submission times (CSV: submitted_at, and file, user_id or student)")
    _course_options(collect, db=False, config=False)
    collect.set_defaults(run=run_collect)

    autograde = commands.add_parser(
        "autograde", help="grade every collected submission with nbgrader, N at a time, in a sandbox",
        description="Execute each submission in its own sandboxed kernel (N at a time, or on the "
                    "workers of a Dask cluster), judge it with the hidden tests outside the kernel, then "
                    "let nbgrader score it into the gradebook. A submission that hangs, crashes or floods "
                    "its output loses only the exercises it broke.")
    autograde.add_argument("assignments", nargs="*", help="assignments to grade (default: all collected)")
    autograde.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at the same time "
                                                                     "(default: %(default)s)")
    autograde.add_argument("--student", action="append", help="grade only this student (repeatable)")
    autograde.add_argument("--timeout", type=float, default=Limits.cell_timeout,
                           help="seconds one cell may run (default: %(default)s)")
    autograde.add_argument("--notebook-timeout", type=float, default=Limits.notebook_timeout,
                           help="seconds all the cells of one notebook may run, replays after a crash "
                                "included (default: %(default)s)")
    autograde.add_argument("--memory", type=float, default=Limits.memory / 2**20,
                           help="memory limit of one kernel in MiB (default: %(default)g)")
    autograde.add_argument("--output-limit", type=int, default=Limits.output,
                           help="characters of output kept per cell (default: %(default)s)")
    autograde.add_argument("--retries", type=int, default=Limits.retries,
                           help="extra attempts when a kernel fails to start (default: %(default)s)")
    autograde.add_argument("--seed", type=int, help="seed of the hidden cases for every submission "
                                                    "(default: a fresh one each, recorded)")
    autograde.add_argument("--scheduler", metavar="ADDRESS",
                           help="grade on the workers of this Dask scheduler (tcp://HOST:PORT, or its "
                                "scheduler file) instead of --jobs processes here; needs the dask extra")
    autograde.add_argument("--no-template", dest="template", action="store_false",
                           help="start every kernel from scratch instead of forking it from a pre-imported "
                                "kernel template (same isolation, slower)")
    _course_options(autograde)
    autograde.set_defaults(run=run_autograde)

    feedback = commands.add_parser(
        "feedback", help="per-student HTML feedback (named mistakes, plots; no hidden tests)",
        description="Generate each autograded student's feedback HTML with nbgrader, hidden tests removed, "
                    "into <course-dir>/feedback/<student>/<assignment>/.")
    feedback.add_argument("assignments", nargs="*", help="assignments (default: all autograded)")
    _course_options(feedback, config=False)
    feedback.set_defaults(run=run_feedback)

    export = commands.add_parser(
        "export", help="grades as CSV: nbgrader's grades.csv, a student × exercise table, or an LMS import",
        description="Write nbgrader's grades.csv and exercises-<assignment>.csv (one row per student, one "
                    "column per graded cell), or with --format canvas|moodle a file the LMS's gradebook "
                    "imports, one row per student of --roster (the LMS's own gradebook export). A written "
                    "answer not graded yet is 'awaiting grading' (an empty cell in an LMS file), never 0; "
                    "no submission is an empty cell. Exit status 1 when a graded student is not on the "
                    "roster.")
    export.add_argument("--out", help="folder for the CSV files (default: <course-dir>/export)")
    export.add_argument("--format", choices=("nbgrader", "canvas", "moodle"), default="nbgrader",
                        help="nbgrader: grades.csv and exercises-*.csv; canvas: canvas-grades.csv; "
                             "moodle: moodle-grades.csv (default: %(default)s)")
    export.add_argument("--roster", metavar="FILE", help="the LMS's gradebook export (CSV): its students "
                                                         "(needed by --format canvas and moodle)")
    _course_options(export)
    export.set_defaults(run=run_export)

    formgrader = commands.add_parser(
        "formgrader", help="open nbgrader's formgrader on the course folder to grade the written answers",
        description="Start JupyterLab with nbgrader's formgrader on the course folder (created if it "
                    "does not exist) and open it in a browser: Manual Grading scores the written answers "
                    "that autograde left to you. The formgrader is switched on for this server only. "
                    "Ctrl-C stops it.")
    formgrader.add_argument("--port", type=int,
                            help="port of the server (default: Jupyter's, 8888 or the next free one)")
    formgrader.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    formgrader.add_argument("--no-browser", action="store_true", help="do not open a browser")
    _course_options(formgrader)
    formgrader.set_defaults(run=run_formgrader)

    report = commands.add_parser(
        "report", help="a class report (HTML): pass rates, common mistakes, tampering, incidents",
        description="Write an HTML report for the instructor from the last autograde run.")
    report.add_argument("assignments", nargs="*", help="assignments (default: all autograded)")
    report.add_argument("--out", help="HTML file (default: <course-dir>/report.html)")
    _course_options(report)
    report.set_defaults(run=run_report)
    return parser


def run_check(args) -> int:
    solutions = Path(args.solutions) if args.solutions else _course.SOLUTIONS
    report = check_notebook(args.notebook, seed=args.seed, solutions=solutions)
    print(json.dumps(report.as_dict()) if args.json else report.text())
    return 0


# The class-pipeline commands import their module when they run: nbgrader's apps are slow to
# import, and `check` (a learner's command) does not need them.

def run_release(args) -> int:
    from .checks import public_data
    from .pipeline.release import release

    if _course.CHECKOUT is None:
        raise UsageError("release writes the student notebooks and the student package's data of a "
                         "checkout of the course; run it in one (git clone ...), not from the installed "
                         "wheel")

    for path in release(args.assignments, due=args.due, **_config_kwargs(args)):
        print(f"released {path}")
    if args.due:
        print(f"due {args.due}")
    print(f"wrote {public_data.write()}")
    return 0


def run_collect(args) -> int:
    result = _collect.collect(args.source, args.course_dir, assignments=args.assignment,
                              submission_times=args.submissions)
    for item in result.collected:
        late = " (LATE)" if item.record and item.record.late else ""
        print(f"collected {item.student} {item.assignment}{late}: {item.origin} -> {item.destination}")
    for item in result.skipped:
        print(f"skipped {item.origin}: {item.reason}")
    for line in result.warnings:
        print(f"warning {line}")
    print(_collect.summary(result, Path(args.course_dir) / "submitted"))
    return 0


def run_autograde(args) -> int:
    from .pipeline.autograde import autograde, format_table

    limits = Limits(cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                    memory=int(args.memory * 2**20), output=args.output_limit, retries=args.retries)
    results = autograde(args.assignments, jobs=args.jobs, students=args.student, seed=args.seed,
                        limits=limits, scheduler=args.scheduler, template=args.template,
                        **_config_kwargs(args))
    print(format_table(results))
    failed = [r for r in results if not r.graded]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see above.", file=sys.stderr)
    return 1 if failed else 0


def run_feedback(args) -> int:
    from .pipeline.feedback import feedback

    result = feedback(args.assignments, course_dir=args.course_dir, db_url=args.db_url)
    for path in result.written:
        print(f"feedback {path}")
    for line in result.withheld:
        print(f"withheld {line}", file=sys.stderr)
    return 1 if result.withheld else 0


def run_export(args) -> int:
    from .pipeline.export import export

    out = args.out or Path(args.course_dir) / "export"
    result = export(out, format=args.format, roster=args.roster, **_config_kwargs(args))
    for path in result.written:
        print(f"wrote {path}")
    if args.format == "moodle":
        for name, points in sorted(result.points.items()):
            print(f"grade item {name}: maximum grade {points:g}")
    for line in result.pending:
        print(f"awaiting grading {line}")
    for line in result.unrostered:
        print(f"not on the roster {line}", file=sys.stderr)
    return 1 if result.unrostered else 0


def run_formgrader(args) -> int:
    from .pipeline.formgrader import run_formgrader as serve

    return serve(ip=args.ip, port=args.port, open_browser=not args.no_browser, **_config_kwargs(args))


def run_report(args) -> int:
    from .pipeline.report import report

    print(f"wrote {report(args.out, assignments=args.assignments, **_config_kwargs(args))}")
    return 0


def main(argv=None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as error:
        print(f"grader {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
