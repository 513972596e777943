"""``python -m grader report``: one HTML page that tells an instructor what the class got wrong.

Per assignment: the score distribution and the pass rate of each exercise
(matplotlib charts, embedded), the most common named mistakes with their counts
and a few students who made each, the submissions that tripped the tamper
guards, the grading incidents (time limit, crashed kernel, flooded output) and
the class table. Totals come from nbgrader's gradebook when the report is written
(:mod:`grader.pipeline.grades`), so grades given by hand since ``autograde`` count, late
penalties are deducted and a written answer not graded yet shows as "awaiting grading";
the named mistakes, tamper signals and incidents are from the results ``autograde`` keeps.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from matplotlib.figure import Figure

from ..checks import registry
from ..errors import ReportError
from . import config as _config
from . import course as _course
from . import grades as _grades
from . import results as _results

#: Outcomes that are not a variant of an exercise, in the words of the report.
GENERIC = {
    "not_implemented": "not implemented (the stub still raises NotImplementedError)",
    "raised": "raised an error",
    "returned_none": "returned None (no return statement)",
    "exceeds_memory": "used the memory the exercise forbids (e.g. built the full score matrix)",
    "wrong_shape": "wrong shape",
    "wrong_dtype": "wrong dtype",
    "wrong_type": "wrong type of result",
    "wrong_values": "wrong values (no known mistake matches)",
    "wrong_value": "wrong result",
    "mutated_input": "changed its input in place",
    "used_reference": "tried to use the reference solution",
    "did_not_finish": "the check did not finish (time limit, crash or missing function)",
    "tampered": "forged or missing check results",
    "answer_cell_failed": "the answer cell itself raised an error (a syntax error, say)",
}


def mistake_label(function, key):
    """Plain words for a misconception key of an exercise."""
    if key in GENERIC:
        return GENERIC[key]
    try:
        variants = registry.get(function).variants
    except ValueError:
        return key
    return next((v.label for v in variants if v.key == key), key)


def class_statistics(results):
    """Everything the report shows about one assignment, as plain data.

    Parameters
    ----------
    results : list of SubmissionResult
        The ``autograde`` results of one assignment.

    Returns
    -------
    dict
        ``exercises`` [(function, passed, total)], ``mistakes`` [(function, key,
        label, count, students)], ``tamper`` [(student, signal, exercises)],
        ``incidents`` [(student, cell, kind, detail)], ``not_graded``
        [(student, reason)], ``scores`` [(student, autograded points, their maximum)].
    """
    graded = [r for r in results if r.graded]
    passed, total, order = Counter(), Counter(), []
    mistakes = defaultdict(list)
    tamper, incidents = defaultdict(list), []
    for r in graded:
        for e in r.exercises:
            name = e.function or e.grade_id
            if name not in order:
                order.append(name)
            total[name] += 1
            passed[name] += bool(e.passed)
            if not e.passed and e.misconception:
                mistakes[(name, e.misconception)].append(r.student)
            for signal in e.signals:
                tamper[(r.student, signal)].append(name)
        for signal in r.signals:
            tamper[(r.student, signal)].append("the notebook")
        incidents += [(r.student, i.cell, i.kind, i.detail) for i in r.incidents]
    ranked = sorted(mistakes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "exercises": [(name, passed[name], total[name]) for name in order],
        "mistakes": [(f, k, mistake_label(f, k), len(who), sorted(who)) for (f, k), who in ranked],
        "tamper": [(student, signal, ", ".join(names)) for (student, signal), names in tamper.items()],
        "incidents": incidents,
        "not_graded": [(r.student, r.reason) for r in results if not r.graded],
        "scores": [(r.student, r.autograded_points, r.autograded_max) for r in graded],
    }


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def charts(stats, autograded_max):
    """The two charts of an assignment as base64 PNGs: pass rates and score distribution."""
    names = [name for name, _, _ in stats["exercises"]]
    rates = [100 * p / t if t else 0 for _, p, t in stats["exercises"]]
    fig = Figure(figsize=(6.5, 0.45 * len(names) + 1.2))
    ax = fig.subplots()
    bars = ax.barh(names[::-1], rates[::-1], color="C0")
    ax.bar_label(bars, fmt="%.0f%%", padding=3)
    ax.set_xlim(0, 110)
    ax.set_xlabel("submissions that pass (%)")
    ax.set_title("Pass rate per exercise")
    pass_rates = _png(fig)

    scores = [score for _, score, _ in stats["scores"]]
    fig = Figure(figsize=(6.5, 3.2))
    ax = fig.subplots()
    top = max(autograded_max, max(scores, default=0))
    ax.hist(scores, bins=[x - 0.5 for x in range(int(top) + 2)], color="C1", edgecolor="white")
    ax.set_xlabel(f"autograded score (of {autograded_max:g}; written answers not included)")
    ax.set_ylabel("students")
    ax.set_title("Score distribution")
    ax.yaxis.get_major_locator().set_params(integer=True)
    distribution = _png(fig)
    return pass_rates, distribution


def _table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>" if rows else "<p><em>none</em></p>"


def gradebook_total(grade: _grades.AssignmentGrade | None) -> str:
    """The class table's total: ``7/11``, ``awaiting grading`` or — (not in the gradebook)."""
    if grade is None or not grade.submitted:
        return "—"
    if grade.awaiting:
        return f"{_grades.AWAITING} ({', '.join(grade.pending)})"
    late = f" (late −{grade.penalty:g})" if grade.penalty else ""
    return f"{grade.score:g}/{grade.max_score:g}{late}"


def _assignment_section(assignment, results, grades=None):
    grades = grades or {}
    stats = class_statistics(results)
    graded = [r for r in results if r.graded]
    auto = sorted(score for _, score, _ in stats["scores"])
    auto_max = max((top for _, _, top in stats["scores"]), default=0)
    awaiting = sorted(r.student for r in graded if (g := grades.get(r.student)) is not None and g.awaiting)
    parts = [f"<h2>{html.escape(assignment)}</h2>",
             f"<p>{len(results)} submissions, {len(graded)} graded, {len(awaiting)} with written answers "
             f"awaiting grading. Autograded score: median "
             f"{auto[len(auto) // 2] if auto else 0:g} of {auto_max:g}.</p>"]
    if graded:
        pass_rates, distribution = charts(stats, auto_max)
        parts.append(f'<div class="charts"><img alt="pass rate per exercise" '
                     f'src="data:image/png;base64,{pass_rates}"><img alt="score distribution" '
                     f'src="data:image/png;base64,{distribution}"></div>')
    parts += ["<h3>Most common mistakes</h3>",
              _table(["exercise", "mistake", "students", "for example"],
                     [(f, label, n, ", ".join(who[:3])) for f, _, label, n, who in stats["mistakes"]]),
              "<h3>Tamper guards tripped</h3>",
              _table(["student", "what was seen", "in the checks of"], stats["tamper"]),
              "<h3>Grading incidents</h3>",
              _table(["student", "cell", "kind", "detail"], stats["incidents"]),
              "<h3>Not graded</h3>", _table(["student", "reason"], stats["not_graded"])]
    names = [name for name, _, _ in stats["exercises"]]
    rows = []
    for r in graded:
        marks = {e.function or e.grade_id: ("✔" if e.passed else f"✘ {e.misconception or ''}")
                 for e in r.exercises}
        rows.append((r.student, f"{r.autograded_points:g}", gradebook_total(grades.get(r.student)),
                     *(marks.get(n, "") for n in names)))
    parts += ["<h3>Class</h3>", _table(["student", "autograded", "gradebook total", *names], rows)]
    return "\n".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;font-size:.9rem}th{background:#f3f3f3}.charts img{max-width:48%;margin-right:1%}"""


def read_gradebook(course_dir, names, *, db_url=None, course_id=None, config_file=None) -> dict:
    """``{assignment: {student: AssignmentGrade}}`` from the course's gradebook, now.

    Raises
    ------
    ReportError
        When the course's sqlite gradebook does not exist.
    """
    from nbgrader.api import MissingEntry

    settings = _config.existing_gradebook(course_dir, db_url=db_url, course_id=course_id,
                                          config_file=config_file, error=ReportError)
    found = {}
    with _config.open_gradebook(settings, ReportError) as gb:
        students = sorted(s.id for s in gb.students)
        for name in names:
            try:
                found[name] = {s: _grades.read_grade(gb, name, s) for s in students}
            except MissingEntry:
                found[name] = {}
    return found


def report(out=None, *, course_dir=_course.COURSE, assignments=None, db_url=None, course_id=None,
           config_file=None):
    """Write the class report.

    Parameters
    ----------
    out : path-like, optional
        The HTML file; default ``<course_dir>/report.html``.
    course_dir : path-like
    assignments : list of str, optional
        Default: every assignment that was autograded.
    db_url, course_id : str, optional
        The gradebook's URL and course id; default: the course's configuration's.
    config_file : path-like, optional

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ReportError
        When there are no autograde results to report on, or no gradebook.
    """
    course_dir = Path(course_dir)
    by_assignment = defaultdict(list)
    for result in _results.load(course_dir):
        by_assignment[result.assignment].append(result)
    names = [name for name in (list(assignments) if assignments else sorted(by_assignment))
             if by_assignment[name]]
    if not names:
        raise ReportError(f"no autograde results in {course_dir}; run autograde first")
    grades = read_gradebook(course_dir, names, db_url=db_url, course_id=course_id, config_file=config_file)
    sections = [_assignment_section(name, by_assignment[name], grades[name]) for name in names]
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report</title>"
            f"<style>{_STYLE}</style></head><body><h1>Class report</h1>"
            f"<p>Course folder {html.escape(str(course_dir.resolve()))}, written {stamp}.</p>"
            + "\n".join(sections) + "</body></html>")
    out = Path(out) if out else course_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
