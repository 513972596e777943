"""A synthetic class for the instructor demo: submissions of notebook 01 and what grading must find.

:func:`build_class` writes one notebook per student into an LMS-style download
folder (``<student>_<assignment>.ipynb``), built from the released notebook with
the answer cells (matched by nbgrader ``grade_id``) replaced: complete solutions
taken from ``solutions/``, or the code a learner with one particular mistake,
misbehaviour or cheat would write. Each :class:`DemoStudent` carries the outcome
that autograding must produce: points per test cell, the named misconception of
each failing one, and whether a tamper signal is expected.

Every student has exactly one story. Where a mistake would otherwise spread to
the exercises that reuse the function (``attend`` calls ``weighted_sum`` …), the
student's later functions are written without it, so that only the story's
exercise is lost — except for the softmax overflow, which deliberately shows how
one bug costs every exercise built on it. Misbehaving answers sit in functions
that no later exercise (and, where they are slow, no plot) calls.

:func:`add_messy_files` adds the files a real download folder holds besides the
submissions (a text file, a corrupt notebook, an older duplicate, another
assignment under this one's name), which ``collect`` must report and skip.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.pipeline.course import NOTEBOOKS, SOLUTIONS
from grader.runtime.notebook import grade_id as _grade_id

#: The assignment this class answers.
ASSIGNMENT = "01_attention_weights"
#: Its autograded test cells.
_TESTS = ("test_softmax", "test_dot_scores", "test_attention_weights", "test_weighted_sum", "test_attend")
#: The released stub of an answer cell, replaced by the learner's body.
STUB = re.compile(r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n(?P=indent)raise NotImplementedError\(\)[ \t]*$",
                  re.MULTILINE)
_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
_SOLUTION = "solution"


@dataclass(frozen=True)
class DemoStudent:
    """One submission of the demo class and the outcome grading must produce.

    Attributes
    ----------
    student : str
        Student id (lower-case letters only, so file names parse unambiguously).
    description : str
        One line for the class table.
    expected : dict of str to float
        Test cell grade_id -> points the autograder must give (autograded cells only).
    misconceptions : dict of str to str
        Test cell grade_id -> misconception key of each failing test cell.
    tamper : bool
        True when grading must report a tamper signal for this submission.
    misbehaves : bool
        True when the submission hangs, crashes, exits or floods its output (it
        must lose only the exercise it breaks).
    file : pathlib.Path
        The submission written into the download folder.
    """

    student: str
    description: str
    expected: dict
    misconceptions: dict
    tamper: bool
    misbehaves: bool
    file: Path


@dataclass(frozen=True)
class Answer:
    """A learner's answer cell: the body that replaces the stub, and code around the function.

    Attributes
    ----------
    body : str
        Function body (unindented), or "" for the solution's.
    before, after : str
        Top-level code written before / after the function definition.
    replace : str, optional
        The whole cell source instead of the released one (the function is not defined).
    """

    body: str = ""
    before: str = ""
    after: str = ""
    replace: str | None = None


@dataclass(frozen=True)
class Learner:
    """The recipe of one demo student.

    Attributes
    ----------
    student, description, tamper, misbehaves
        As in :class:`DemoStudent`.
    answers : dict of str to Answer
        Answer cells that differ from the solutions, by grade_id. Others hold the solution.
    failing : dict of str to str
        Test cell grade_id -> expected misconception key; every other test cell gets full points.
    written : int or None
        Which canned written answers to give (index into WRITTEN), None to leave them blank.
    blank : bool
        Submit the released notebook untouched.
    """

    student: str
    description: str
    answers: dict = field(default_factory=dict)
    failing: dict = field(default_factory=dict)
    tamper: bool = False
    misbehaves: bool = False
    written: int | None = 0
    blank: bool = False


def _code(text):
    return textwrap.dedent(text).strip("\n")


# ---- building blocks of the learners' answers --------------------------------------------------

#: attention_weights written from the formula, without the learner's dot_scores or softmax
#: (the same NumPy operations as the reference, so the isolation costs no precision).
SELF_CONTAINED_WEIGHTS = Answer(_code("""
    q, K = np.asarray(q), np.asarray(K)
    s = (K @ q[..., :, None])[..., 0]  # (..., n)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
"""))

#: attend written from the formulas, without the learner's weighted_sum or attention_weights.
SELF_CONTAINED_ATTEND = Answer(_code("""
    q, K, V = np.asarray(q), np.asarray(K), np.asarray(V)
    s = (K @ q[..., :, None])[..., 0]  # (..., n)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    a = (w[..., None, :] @ V)[..., 0, :]  # (..., d_v)
    if not concat_query:
        return a
    q = np.broadcast_to(q, a.shape[:-1] + q.shape[-1:])
    return np.concatenate([a, q], axis=-1)
"""))

ALTERNATIVE = {
    "softmax": Answer(_code("""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        rows = np.moveaxis(x, axis, -1)
        out = np.empty_like(rows)
        for index in np.ndindex(rows.shape[:-1]):  # one slice at a time
            row = rows[index]
            e = np.exp(row - row.max())
            out[index] = e / e.sum()
        return np.moveaxis(out, -1, axis)
    """)),
    "dot_scores": Answer(_code("""
        q, K = np.asarray(q), np.asarray(K)
        return np.einsum("...nd,...d->...n", K, q)
    """)),
    "attention_weights": Answer(_code("""
        scores = dot_scores(q, K)
        return softmax(scores)
    """)),
    "weighted_sum": Answer(_code("""
        return np.einsum("...n,...nd->...d", np.asarray(w), np.asarray(V))
    """)),
    "attend": Answer(_code("""
        a = weighted_sum(attention_weights(q, K), V)
        if concat_query:
            q = np.asarray(q)
            parts = (a, np.broadcast_to(q, a.shape[:-1] + q.shape[-1:]))
            a = np.concatenate(parts, axis=-1)
        return a
    """)),
}

WRITTEN = (
    {"written_temperature": (
        "The weight is $e^{q\\cdot k_i}$ divided by the same sum for every key, and exp only grows, "
        "so a bigger score always gets a bigger weight. Multiplying $q$ by 10 multiplies the score "
        "differences by 10: the weights become almost one-hot on the best key and $a$ is nearly "
        "that key's value. With 0.01 all scores are about 0, the weights are almost uniform and $a$ "
        "is close to the mean of the values."),
     "written_concat": (
        "When the next layer still needs the query itself, e.g. a translation decoder whose state "
        "says what it is about to write: $[a; q]$ gives it both what was retrieved and what was "
        "asked.")},
    {"written_temperature": (
        "softmax is monotonic, so more score = more weight. Times 10: sharper, basically argmax, "
        "the output becomes one value vector. Times 0.01: flat weights, output = average of V."),
     "written_concat": (
        "If the output of attention is fed to a layer that must also know the query (Luong "
        "attention), otherwise the information in q is lost.")},
    {"written_temperature": (
        "Because $w_i/w_j = e^{s_i - s_j}$. Scaling q scales every difference, like an inverse "
        "temperature: x10 makes the weights peaky, x0.01 makes them nearly equal."),
     "written_concat": "To keep the query for the next layer."},
)


# ---- the class ---------------------------------------------------------------------------------

def learners():
    """The recipes of the demo class, in the order of the class table.

    Returns
    -------
    list of Learner
    """
    return [
        # --- full marks and blank ---
        Learner("ada", "full marks: the instructor's solutions"),
        Learner("ben", "full marks with other code: a loop for softmax, einsum for the products",
                answers=ALTERNATIVE, written=1),
        Learner("cleo", "blank: the released notebook, untouched", blank=True, written=None,
                failing={t: "not_implemented" for t in _TESTS}),
        # --- one common misconception each ---
        Learner("dev", "softmax without subtracting the max: overflows, and so do the exercises using it",
                answers={"softmax": Answer(_code("""
                    x = np.asarray(x)
                    e = np.exp(x)
                    return e / e.sum(axis=axis, keepdims=True)
                """))},
                failing={"test_softmax": "no_max_subtraction", "test_attention_weights": "wrong_values",
                         "test_attend": "wrong_values"}, written=2),
        Learner("eli", "softmax over the rows (axis 0) instead of the last axis",
                answers={"softmax": Answer(_code("""
                    x = np.asarray(x)
                    e = np.exp(x - x.max(axis=0, keepdims=True))
                    return e / e.sum(axis=0, keepdims=True)
                """)), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_softmax": "wrong_axis"}),
        Learner("fay", "dot_scores sums the products over the keys instead of the features",
                answers={"dot_scores": Answer(_code("""
                    q, K = np.asarray(q), np.asarray(K)
                    return (q[..., None, :] * K).sum(axis=-2)
                """)), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_dot_scores": "sum_over_wrong_axis"}, written=1),
        Learner("gus", "attention_weights divides the scores by sqrt(d), as in notebook 02",
                answers={"attention_weights": Answer(_code("""
                    scores = dot_scores(q, K)
                    return softmax(scores / np.sqrt(np.shape(q)[-1]), axis=-1)
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_attention_weights": "scaled_single_query"}),
        Learner("hana", "weighted_sum divides by n again: a mean of the weighted values",
                answers={"weighted_sum": Answer(_code("""
                    w, V = np.asarray(w), np.asarray(V)
                    return (w[..., None, :] @ V)[..., 0, :] / w.shape[-1]
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_weighted_sum": "mean_instead_of_sum"}, written=2),
        Learner("jia", "weighted_sum sums each weighted value over its features instead of over the values",
                answers={"weighted_sum": Answer(_code("""
                    w, V = np.asarray(w), np.asarray(V)
                    return (w[..., :, None] * V).sum(axis=-1)
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_weighted_sum": "sum_over_features"}),
        Learner("ivan", "attend concatenates in the wrong order: [q; a] instead of [a; q]",
                answers={"attend": Answer(_code("""
                    a = weighted_sum(attention_weights(q, K), V)
                    if concat_query:
                        q = np.broadcast_to(np.asarray(q), a.shape[:-1] + np.shape(q)[-1:])
                        return np.concatenate([q, a], axis=-1)
                    return a
                """))},
                failing={"test_attend": "query_first"}, written=1),
        # --- misbehaving: each costs one exercise that nothing later needs ---
        Learner("kai", "dot_scores loops forever and swallows Ctrl-C (stopped by the time limit)",
                answers={"dot_scores": Answer(_code("""
                    q, K = np.asarray(q), np.asarray(K)
                    scores = (K @ q[..., :, None])[..., 0]
                    while True:  # wait until the scores settle (they never stop "changing")
                        try:
                            scores = scores + 0.0
                        except KeyboardInterrupt:
                            pass  # don't let Ctrl-C stop the refinement
                    return scores
                """)), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_dot_scores": "did_not_finish"}, written=2, misbehaves=True),
        Learner("lea", "weighted_sum calls os._exit(1), a leftover from debugging (the kernel dies)",
                answers={"weighted_sum": Answer(_code("""
                    w, V = np.asarray(w), np.asarray(V)
                    print("weighted_sum got", w.shape, V.shape)
                    os._exit(1)  # stop here while I look at the shapes
                """), before="import os"), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_weighted_sum": "did_not_finish"}, misbehaves=True),
        Learner("max", "dot_scores peeks at memory with ctypes and segfaults",
                answers={"dot_scores": Answer(_code("""
                    q, K = np.asarray(q), np.asarray(K)
                    scores = (K @ q[..., :, None])[..., 0]
                    ctypes.string_at(0)  # peek at the raw memory
                    return scores
                """), before="import ctypes"), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_dot_scores": "did_not_finish"}, written=1, misbehaves=True),
        Learner("nia", "softmax calls sys.exit() instead of returning",
                answers={"softmax": Answer(_code("""
                    x = np.asarray(x)
                    e = np.exp(x - x.max(axis=axis, keepdims=True))
                    weights = e / e.sum(axis=axis, keepdims=True)
                    sys.exit(weights)  # "exit with the result"
                """), before="import sys"), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_softmax": "raised"}, misbehaves=True),
        Learner("omar", "attention_weights allocates a 4-12 GiB table (memory limit -> MemoryError)",
                answers={"attention_weights": Answer(_code("""
                    q, K = np.asarray(q), np.asarray(K)
                    # a table of exp values for every feature, "to avoid recomputing them"
                    table = np.ones((q.shape[-1], 2**28))
                    s = (K @ q[..., :, None])[..., 0]
                    e = np.exp(s - s.max(axis=-1, keepdims=True)) * table[0, 0]
                    return e / e.sum(axis=-1, keepdims=True)
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_attention_weights": "raised"}, written=2, misbehaves=True),
        Learner("pia", "prints ~100 MB while testing weighted_sum (output truncated, no points lost)",
                answers={"weighted_sum": Answer(after=_code("""
                    # try it many times and look at everything (10 000 lines of 10 kB)
                    for trial in range(10_000):
                        print(f"trial {trial:5d}: " + "ok " * 3_330)
                """))}, misbehaves=True),
        # --- tampering: zero on the exercise, and reported ---
        Learner("quin", "replaces np.allclose and np.testing.assert_allclose; softmax not normalised",
                answers={"softmax": Answer(_code("""
                    x = np.asarray(x)
                    return np.exp(x - x.max(axis=axis, keepdims=True))
                """), before=_code("""
                    np.allclose = lambda *args, **kwargs: True
                    np.testing.assert_allclose = lambda *args, **kwargs: None
                """)), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_softmax": "not_normalised"}, tamper=True),
        Learner("rosa", "redefines check in the attend cell (no effect: grading never calls the learner's "
                        "check)",
                answers={"attend": Answer(before=_code("""
                    def check(name, fn, hidden=False, seed=None):
                        print(f"{name}: all good")
                """), body=_code("""
                    a = weighted_sum(attention_weights(q, K), V)
                    if not concat_query:
                        return a
                    q = np.broadcast_to(np.asarray(q), a.shape[:-1] + np.shape(q)[-1:])
                    return np.concatenate([a, q], axis=-1)
                """))}, written=1),
        Learner("sam", "weighted_sum ignores the weights (mean of V) and forges passing check records",
                answers={"weighted_sum": Answer(_code("""
                    return np.asarray(V).mean(axis=-2)
                """), before=_code("""
                    from IPython import get_ipython
                    from IPython.display import display

                    RECORD = "application/vnd.attention-course.check+json"


                    def forge(info):
                        cell = info.raw_cell or ""
                        if "weighted_sum" not in cell or "def weighted_sum" in cell:
                            return
                        for mode in ("public", "hidden"):
                            fake = {"version": 1, "exercise": "weighted_sum", "mode": mode, "seed": 0,
                                    "cases": 0, "outcomes": [], "signals": []}
                            display({RECORD: fake, "text/plain": f"weighted_sum: {mode} check passed"},
                                    raw=True)
                        get_ipython().events.unregister("pre_run_cell", forge)


                    get_ipython().events.register("pre_run_cell", forge)
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_weighted_sum": "tampered"}, tamper=True, written=2),
        Learner("tia", "imports attend from the course's reference package",
                answers={"attend": Answer(replace="from attention_ref import attend  # why write it twice?")},
                failing={"test_attend": "used_reference"}, tamper=True),
        Learner("uma", "softmax execs the reference's source file, looked for next to the student package",
                answers={"softmax": Answer(_code("""
                    namespace = {}
                    source = Path(attention_course.__file__).parent.parent / "attention_ref" / "softmax.py"
                    exec(source.read_text(), namespace)
                    return namespace["softmax"](x, axis)
                """), before=_code("""
                    from pathlib import Path

                    import attention_course
                """)), "attention_weights": SELF_CONTAINED_WEIGHTS},
                failing={"test_softmax": "used_reference"}, tamper=True, written=1),
        Learner("vic", "weighted_sum hunts for solutions/ and gradebook.db by path (hidden by the "
                       "sandbox: it only fails, nothing to report)",
                answers={"weighted_sum": Answer(_code("""
                    here = Path.cwd()
                    for folder in (here, *here.parents):
                        for name in ("solutions", "source"):
                            answer = folder / name / "01_attention_weights" / "01_attention_weights.ipynb"
                            if answer.exists():
                                for cell in json.loads(answer.read_text())["cells"]:
                                    if "def weighted_sum" in "".join(cell["source"]):
                                        namespace = {"np": np}
                                        exec("".join(cell["source"]), namespace)
                                        return namespace["weighted_sum"](w, V)
                        if (folder / "gradebook.db").exists():
                            print((folder / "gradebook.db").read_bytes()[:100])
                    return np.asarray(V).mean(axis=-2)  # nothing found: a guess
                """), before=_code("""
                    import json
                    from pathlib import Path
                """)), "attend": SELF_CONTAINED_ATTEND},
                failing={"test_weighted_sum": "wrong_values"}),
    ]


# ---- writing the notebooks ---------------------------------------------------------------------

def strip_solution(source):
    """The source of a solution cell without its ``### BEGIN/END SOLUTION`` marker lines."""
    return _MARKERS.sub("", source).strip("\n")


def fill_stub(released, answer):
    """The released answer cell's source with the learner's answer written in.

    Parameters
    ----------
    released : str
        Source of the released answer cell: signature, docstring and the stub.
    answer : Answer

    Returns
    -------
    str
    """
    if answer.replace is not None:
        return answer.replace
    source = released
    if answer.body:
        match = STUB.search(released)
        if match is None:
            raise ValueError("the released answer cell has no '# YOUR CODE HERE / raise "
                             f"NotImplementedError()' stub to replace:\n{released[:200]}")
        body = textwrap.indent(answer.body, match["indent"])
        source = released[:match.start()] + body + released[match.end():]
    parts = [answer.before, source, answer.after]
    return "\n\n\n".join(p for p in parts if p)


def _read(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return nbformat.read(path, as_version=4)


def _notebooks(assignment, solutions, notebooks):
    source = _read(Path(solutions) / assignment / f"{assignment}.ipynb", "solutions notebook")
    released = _read(Path(notebooks) / assignment / f"{assignment}.ipynb", "released notebook")
    return source, released


def _points(source):
    return {_grade_id(c): float(c.metadata["nbgrader"].get("points", 0)) for c in source.cells
            if _grade_id(c) in _TESTS}


def submission(learner, source, released):
    """The notebook ``learner`` hands in (a new notebook; the inputs are not modified).

    Parameters
    ----------
    learner : Learner
    source, released : nbformat.NotebookNode
        The assignment's solutions notebook and its released (student) version.

    Returns
    -------
    nbformat.NotebookNode
    """
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    if learner.blank:
        return nb
    solutions = {_grade_id(c): strip_solution(c.source) for c in source.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = _grade_id(cell)
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution") or gid not in solutions:
            continue
        if cell.cell_type == "markdown":
            if learner.written is not None:
                cell.source = WRITTEN[learner.written % len(WRITTEN)].get(gid, cell.source)
        elif gid in learner.answers:
            answer = learner.answers[gid]
            # Code around an unchanged function goes around the solution.
            cell.source = fill_stub(cell.source if answer.body else solutions[gid], answer)
        else:
            cell.source = solutions[gid]
    return nb


def _expected(learner, points):
    unknown = set(learner.failing) - set(points)
    if unknown:
        raise ValueError(f"{learner.student}: no test cells {sorted(unknown)} in the assignment; "
                         f"its test cells are {sorted(points)}")
    return ({t: 0.0 if t in learner.failing else p for t, p in points.items()},
            dict(learner.failing))


def build_class(folder, assignment=ASSIGNMENT, solutions=SOLUTIONS, notebooks=NOTEBOOKS):
    """Write the demo class as an LMS download: one ``<student>_<assignment>.ipynb`` per student.

    Parameters
    ----------
    folder : path-like
        The download folder (created if needed).
    assignment : str
        Must be ``01_attention_weights``: the answers are written for its exercises.
    solutions, notebooks : path-like
        The course's source and release folders.

    Returns
    -------
    list of DemoStudent
        In the order of the class table.
    """
    if assignment != ASSIGNMENT:
        raise ValueError(f"the demo class answers {ASSIGNMENT!r}, not {assignment!r}")
    source, released = _notebooks(assignment, solutions, notebooks)
    points = _points(source)
    if set(points) != set(_TESTS):
        raise ValueError(f"{assignment}: expected the test cells {list(_TESTS)}, found {sorted(points)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    students = []
    for learner in learners():
        path = folder / f"{learner.student}_{assignment}.ipynb"
        nbformat.write(submission(learner, source, released), path)
        expected, misconceptions = _expected(learner, points)
        students.append(DemoStudent(learner.student, learner.description, expected, misconceptions,
                                    learner.tamper, learner.misbehaves, path))
    return students


#: Reason kinds of the files collect must skip.
MESSY_REASONS = ("not a notebook", "corrupt JSON", "duplicate", "wrong assignment")


def add_messy_files(folder, students, assignment=ASSIGNMENT, notebooks=NOTEBOOKS):
    """Add the files of a real download folder that are not gradable submissions.

    - ``notes.txt``: not a notebook;
    - ``<new student>_<assignment>.ipynb`` cut off mid-JSON: corrupt;
    - ``<student>_<assignment>-1.ipynb``: an earlier upload of the first student
      (the blank released notebook), a day before the real one by the LMS's submission
      times (:func:`submission_times`), so that "keep the most recent" keeps the real one;
    - ``<new student>_<assignment>.ipynb`` holding the released notebook of another
      assignment (02 when there is one).

    Parameters
    ----------
    folder : path-like
        The download folder written by :func:`build_class`.
    students : list of DemoStudent
        The class (the duplicate belongs to the first; new ids avoid all of them).
    assignment : str
    notebooks : path-like
        The release folder (the blank copy and the other assignment come from there).

    Returns
    -------
    dict of str to str
        File name -> reason kind, one of :data:`MESSY_REASONS`.
    """
    if not students:
        raise ValueError("add_messy_files needs the class: students is empty")
    folder = Path(folder)
    taken = {s.student for s in students}
    newcomers = iter(n for n in ("zoe", "wes", "yan", "xia", "una") if n not in taken)
    released = Path(notebooks) / assignment / f"{assignment}.ipynb"
    others = sorted(p for p in Path(notebooks).glob("*/*.ipynb")
                    if p.parent.name != assignment and p.stem == p.parent.name)
    if not released.is_file() or not others:
        raise FileNotFoundError(f"{notebooks}: need the released {assignment} and one other assignment")
    messy = {}

    notes = folder / "notes.txt"
    notes.write_text("Remember: the deadline was extended to Friday for the whole group.\n")
    messy[notes.name] = "not a notebook"

    corrupt = folder / f"{next(newcomers)}_{assignment}.ipynb"
    text = released.read_text()
    corrupt.write_text(text[: len(text) // 3])  # an upload that was cut off
    messy[corrupt.name] = "corrupt JSON"

    real = students[0].file
    duplicate = folder / f"{students[0].student}_{assignment}-1.ipynb"
    duplicate.write_text(text)  # the earlier, blank upload
    now = time.time()  # file times mean nothing to collect: the LMS's submission times decide
    os.utime(real, (now - 86_400, now - 86_400))
    os.utime(duplicate, (now, now))
    messy[duplicate.name] = "duplicate"

    wrong = folder / f"{next(newcomers)}_{assignment}.ipynb"
    wrong.write_text(others[0].read_text())
    messy[wrong.name] = "wrong assignment"
    return messy


#: When the demo class handed its notebooks in, as the LMS would say (ISO 8601, UTC).
HANDED_IN = "2026-03-02T09:00:00Z"
#: The first student's earlier, blank upload: a day before.
EARLIER = "2026-03-01T09:00:00Z"


def submission_times(folder, messy):
    """The LMS's submission times of a download folder, as ``collect --submissions`` reads them.

    Parameters
    ----------
    folder : path-like
        The download folder.
    messy : dict
        :func:`add_messy_files`' file name -> kind: the duplicate gets the earlier time.

    Returns
    -------
    str
        CSV text with the columns ``file`` and ``submitted_at``, one row per notebook.
    """
    lines = ["file,submitted_at"]
    for path in sorted(Path(folder).rglob("*.ipynb")):
        when = EARLIER if messy.get(path.name) == "duplicate" else HANDED_IN
        lines.append(f"{path.relative_to(folder).as_posix()},{when}")
    return "\n".join(lines) + "\n"
