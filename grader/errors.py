"""The grader's exceptions: one base class, so that the command line has one handler.

Every error a command reports to its user derives from :class:`GraderError`; its message is
one or a few lines that name the problem and, where there is one, the fix. ``python -m grader``
prints ``grader <command>: <message>`` and exits with status 2.
"""

from __future__ import annotations


class GraderError(Exception):
    """A problem the user of a command can fix: bad input, a missing step, a failed stage."""


class UsageError(GraderError):
    """The command's input cannot be used (no such file, not a notebook, unknown assignment)."""


class ConfigError(GraderError):
    """The course's nbgrader configuration cannot be read (a file that fails, a missing --config FILE)."""


class ReleaseError(GraderError):
    """nbgrader could not generate an assignment; the message carries its log."""


class CollectError(GraderError):
    """The download folder cannot be collected (not a folder, no assignments known)."""


class AutogradeError(GraderError):
    """The batch cannot start (no submissions, unknown assignment, bad limits)."""


class FeedbackError(GraderError):
    """nbgrader failed on feedback, or a feedback file would have shown hidden tests."""


class ExportError(GraderError):
    """There is nothing to export (no gradebook yet)."""


class ReportError(GraderError):
    """There is nothing to report (no autograde results yet)."""


class SandboxError(GraderError):
    """The sandbox was required but cannot be used on this machine."""


class MissingPregradedError(GraderError):
    """nbgrader was asked to score a submission that ``python -m grader autograde`` did not execute."""
