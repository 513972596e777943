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


def main(argv=None):
    """Parse ``argv`` and run the chosen command; return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
