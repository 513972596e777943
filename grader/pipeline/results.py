"""The per-submission result of ``autograde``: a typed record, kept as JSON for ``report``.

One :class:`SubmissionResult` per student and assignment, written to
``<course>/grader/results/<assignment>/<student>.json``. It holds what the gradebook does
not: the named mistakes, tamper signals, grading incidents and the hidden-test seed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..runtime.verify import ExerciseResult

#: Folder of the course folder where the grader keeps its own files.
GRADER_DIR = "grader"


@dataclass(frozen=True)
class Incident:
    """Something that went wrong in one cell while a submission ran (timeout, crash, flood)."""

    cell: str
    kind: str
    detail: str


@dataclass
class SubmissionResult:
    """What grading one submission produced.

    Attributes
    ----------
    student, assignment : str
    notebook : str
        The submitted file.
    seed : int
        Seed of its hidden cases.
    status : str
        ``"graded"``; ``"unreadable"`` (the file is not a usable notebook) or ``"error"``
        (grading failed; ``reason`` says why) — neither of which is in the gradebook.
    reason : str
        Why it was not graded.
    exercises : list of ExerciseResult
    incidents : list of Incident
    signals : list of str
        Tampering seen in the notebook as a whole (cells compared with the source, the
        learner's code read on the trusted side).
    score, max_score : float or None
        nbgrader's score once scored, late penalty deducted (``max(0, raw - penalty)``); written
        answers awaiting grading count nothing in it yet (see ``pending``).
    raw_score : float or None
        nbgrader's score before the late penalty.
    late_penalty : float
        nbgrader's late-submission penalty.
    pending : list of str
        Grade ids of the written answers that wait for the instructor's grade.
    cell_seconds, seconds : float
        Time in the kernel's cells, and in all.
    """

    student: str
    assignment: str
    notebook: str
    seed: int
    status: str = "graded"
    reason: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    raw_score: float | None = None
    late_penalty: float = 0.0
    pending: list[str] = field(default_factory=list)
    cell_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def graded(self) -> bool:
        return self.status == "graded"

    @property
    def autograded_points(self) -> float:
        return float(sum(e.points for e in self.exercises))

    @property
    def autograded_max(self) -> float:
        return float(sum(e.max_points for e in self.exercises))

    @property
    def tamper_signals(self) -> list[str]:
        """Every tamper signal: the notebook's, then each exercise's."""
        return list(dict.fromkeys([*self.signals, *(s for e in self.exercises for s in e.signals)]))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        data = dict(data)
        data["exercises"] = [ExerciseResult(**e) for e in data.get("exercises", [])]
        data["incidents"] = [Incident(**i) for i in data.get("incidents", [])]
        return cls(**data)


def results_dir(course_dir: Path | str) -> Path:
    """Folder of the per-submission results."""
    return Path(course_dir) / GRADER_DIR / "results"


def save(course_dir: Path | str, result: SubmissionResult) -> Path:
    """Write one result; return its path."""
    path = results_dir(course_dir) / result.assignment / f"{result.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.to_json())
    return path


def load(course_dir: Path | str, assignment: str | None = None) -> list[SubmissionResult]:
    """The saved results, sorted by assignment and student."""
    pattern = f"{assignment or '*'}/*.json"
    return [SubmissionResult.from_dict(json.loads(p.read_text()))
            for p in sorted(results_dir(course_dir).glob(pattern))]
