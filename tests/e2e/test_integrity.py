"""Can anything in a submission but its answer code change its score, or hurt another student?

A class of notebook 01 is graded through the command line twice with one seed: once as it is
(honest students and attackers), once with the honest students alone. Every attack must gain
nothing, be reported, and leave every honest student's grade exactly as in the clean run; the
feedback and the report must be generated for everyone and hold nothing active.
"""

from __future__ import annotations

import copy
import csv
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from demo.students import strip_solution
from grader.pipeline import course, results
from grader.pipeline.feedback import hidden_test_lines, visible_text
from grader.pipeline.inert import problems
from grader.runtime.notebook import grade_id

ASSIGNMENT = "01_attention_weights"
SEED = 5
SOURCE = course.SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = course.NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
HONEST = ("full", "half", "blank")


def _solutions():
    source = nbformat.read(SOURCE, as_version=4)
    return {grade_id(c): strip_solution(c.source) for c in source.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _cell(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


def _answered(answers):
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def _forger():
    """Only softmax solved; a new test cell worth 100, a copy of a test cell, a written answer
    turned into a locked test cell worth 100."""
    nb = _answered({"softmax": _solutions()["softmax"]})
    test = _cell(nb, "test_softmax")
    bonus = copy.deepcopy(test)
    bonus.id, bonus.metadata["nbgrader"]["grade_id"] = "bonus", "test_bonus"
    bonus.metadata["nbgrader"]["points"] = 100
    twin = copy.deepcopy(test)
    twin.id = "twin"
    nb.cells += [bonus, twin]
    written = _cell(nb, "written_temperature")
    written.cell_type, written.outputs, written.execution_count = "code", [], None
    written.source = 'check("softmax", softmax)'
    written.metadata["nbgrader"].update(points=100, solution=False, grade=True, locked=True, task=True)
    return nb


def _deleter():
    """Full answers, but the setup cell and a test cell deleted and another test cell edited."""
    nb = _answered(_solutions())
    nb.cells = [c for c in nb.cells if grade_id(c) not in ("setup", "test_attend")]
    _cell(nb, "test_softmax").source = "print('passed')"
    return nb


def _spy(outside):
    """Full answers, plus every way to look around, leak, switch signals off or flood the feedback."""
    nb = _answered(_solutions())
    looks = [outside / "checkout" / "attention_ref" / "softmax.py", outside / "downloads", SOURCE,
             course.PROJECT_ROOT / "attention_ref"]
    spy = ("import os, socket\n"
           + "".join(f"print('LOOK', {str(p)!r}, os.path.exists({str(p)!r}))\n" for p in looks)
           + "s = socket.socket(socket.AF_UNIX)\n"
           + f"try:\n    s.connect({str(outside / 'host.sock')!r}); print('LOOK socket True')\n"
           + "except OSError:\n    print('LOOK socket False')\n"
           + "print('LOOK secret', os.environ.get('GRADER_TEST_SECRET'))\n"
           + "import grader.kernel.recorder as r\nr.tamper_signals = lambda: []\n"
           + "from IPython.display import HTML, Javascript, display\n"
           + "display(HTML('<img src=x onerror=\"alert(1)\"><script>alert(2)</script>'))\n"
           + "display(Javascript('alert(3)'))\n")
    after_softmax = nb.cells.index(_cell(nb, "softmax")) + 1
    nb.cells.insert(after_softmax, nbformat.v4.new_code_cell(spy, id="spy"))
    nb.cells.append(nbformat.v4.new_code_cell("print('HISTORY', get_ipython().user_ns['In'])", id="history"))
    flood = ("from IPython.display import HTML, display\n"
             "for _ in range(8):\n    display(HTML('<p>' + 'x' * 900_000 + '</p>'))")
    nb.cells.append(nbformat.v4.new_code_cell(flood, id="flood"))
    marker = "\n# ### BEGIN HIDDEN TESTS (a comment that broke nbgrader's remover)\n"
    _cell(nb, "weighted_sum").source += marker
    _cell(nb, "written_concat").source = ('To keep q. <img src=x onerror="alert(4)"> '
                                          '<a href="javascript:alert(5)">more</a>')
    return nb


def _forker():
    """Full answers, plus a fork bomb and a /tmp filler in a cell of its own."""
    nb = _answered(_solutions())
    bomb = ("import os\nn = 0\ntry:\n    while n < 1000:\n        os.fork(); n += 1\n"
            "except OSError:\n    pass\n"
            "try:\n    for i in range(100):\n        open(f'/tmp/{i}', 'wb').write(b'x' * 2**25)\n"
            "except OSError:\n    pass\nprint('forks', n)")
    nb.cells.insert(3, nbformat.v4.new_code_cell(bomb, id="bomb"))
    return nb


def _honest():
    full = _solutions()
    return {"full": _answered(full),
            "half": _answered({k: full[k] for k in ("softmax", "dot_scores")}),
            "blank": _answered({})}


def _write(course_dir, notebooks):
    for student, nb in notebooks.items():
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")


def _grader(*args, env=None, check=True):
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=900, cwd=course.PROJECT_ROOT, env=env)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def outside():
    """Host things a spy would like to reach, in /var/tmp (never hidden by default)."""
    root = Path(tempfile.mkdtemp(prefix="outside-", dir="/var/tmp"))
    (root / "checkout" / "attention_ref").mkdir(parents=True)
    (root / "checkout" / "attention_ref" / "softmax.py").write_text("def softmax(x): ...\n")
    (root / "downloads").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "host.sock"))
    server.listen(1)
    yield root
    server.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, outside):
    """The class with attackers and the honest students alone, both autograded (seed 5), exported,
    with feedback and a report."""
    import os

    env = {**os.environ, "GRADER_TEST_SECRET": "hunter2"}
    attacked = tmp_path_factory.mktemp("attacked")
    _write(attacked, {**_honest(), "forger": _forger(), "deleter": _deleter(), "spy": _spy(outside),
                      "forker": _forker()})
    clean = tmp_path_factory.mktemp("clean")
    _write(clean, _honest())
    runs = {}
    for folder in (attacked, clean):
        runs[folder.name] = _grader("autograde", "--course-dir", str(folder), "--seed", str(SEED),
                                    "--timeout", "20", env=env)
        _grader("export", "--course-dir", str(folder))
    runs["feedback"] = _grader("feedback", "--course-dir", str(attacked), check=False)
    _grader("report", "--course-dir", str(attacked))
    return attacked, clean, runs


def _rows(course_dir):
    with open(course_dir / "export" / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _result(course_dir, student):
    return next(r for r in results.load(course_dir, ASSIGNMENT) if r.student == student)


def test_attacks_leave_every_honest_students_grade_as_a_clean_run_gives_it(graded):
    attacked, clean, _ = graded
    rows, clean_rows = _rows(attacked), _rows(clean)
    for student in HONEST:
        assert rows[student] == clean_rows[student], student


def test_forged_duplicated_and_retyped_grade_cells_earn_nothing_and_are_reported(graded):
    """Does the forger get exactly softmax's 2 points of the source's 10, in the gradebook and in
    the CSV, with each forgery reported?"""
    attacked, _, _ = graded
    row = _rows(attacked)["forger"]
    assert row["total"] == "2"
    assert set(row) == set(_rows(attacked)["full"])  # no column for a forged cell
    signals = _result(attacked, "forger").signals
    assert any("test_bonus" in s for s in signals)
    assert any("second copy of graded cell test_softmax" in s for s in signals)
    assert any("written_temperature was turned into a code cell" in s for s in signals)


def test_deleted_and_edited_locked_cells_are_the_sources(graded):
    """Does deleting the setup and a test cell, and editing another, change nothing but a report?"""
    attacked, _, _ = graded
    row = _rows(attacked)["deleter"]
    assert [row[k] for k in row if k.startswith("test_")] == ["2", "1", "1", "1", "2"]
    assert sum("deleted" in s for s in _result(attacked, "deleter").signals) == 2


def test_the_spy_saw_nothing_of_the_host_and_its_tricks_are_reported(graded):
    """Could the spy see another checkout, the downloads, the sources, the project, a host socket,
    the instructor's environment or the hidden tests' source? Are its tricks reported, and do its
    points stay what its answers earn?"""
    attacked, _, _ = graded
    nb = nbformat.read(attacked / "autograded" / "spy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    looks = [line for line in printed.splitlines() if line.startswith("LOOK")]
    assert len(looks) == 6 and all(line.endswith(("False", "None")) for line in looks), looks
    assert "HISTORY" in printed and "__grader_record" in printed  # it saw the neutral cells, no more
    forbidden = hidden_test_lines(nbformat.read(SOURCE, as_version=4))
    assert not [line for line in forbidden if line in printed]
    row = _rows(attacked)["spy"]
    assert row["total"] == "awaiting grading"  # its written answer waits for the instructor
    assert sum(float(row[k]) for k in row if k.startswith("test_")) == 7
    signals = " ".join(_result(attacked, "spy").tamper_signals)
    assert "imports grader.kernel.recorder" in signals and "uses get_ipython" in signals
    assert any(i.kind == "output_truncated" for i in _result(attacked, "spy").incidents)


def test_a_fork_bomb_and_a_full_tmp_cost_nothing(graded):
    attacked, _, _ = graded
    assert _rows(attacked)["forker"]["total"] == "7"
    nb = nbformat.read(attacked / "autograded" / "forker" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "forks 0" in printed


def test_feedback_is_generated_for_everyone_inert_and_without_hidden_tests(graded):
    """Despite the spy's hidden-test marker and HTML, does every student get feedback, with nothing
    active in it and no line of the hidden tests?"""
    attacked, _, runs = graded
    pages = sorted(attacked.glob(f"feedback/*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    students = [p.parts[-3] for p in pages]
    assert students == sorted([*HONEST, "forger", "deleter", "spy", "forker"]), runs["feedback"].stderr
    forbidden = hidden_test_lines(nbformat.read(SOURCE, as_version=4))
    for page in pages:
        text = page.read_text()
        assert problems(text, _template_scripts()) == [], page
        assert not [line for line in forbidden if line in visible_text(text)], page
    spy = (attacked / "feedback" / "spy" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    # the attacks appear only as escaped code text, never as markup
    assert 'onerror="alert(4)"' not in spy and 'href="javascript:' not in spy and "<script>alert" not in spy


def _template_scripts():
    from grader.pipeline.feedback import template_scripts

    return template_scripts()


def test_the_report_names_the_attackers_and_holds_nothing_active(graded):
    attacked, _, _ = graded
    page = (attacked / "report.html").read_text()
    assert problems(page, set()) == []
    text = visible_text(page)
    for student in ("forger", "deleter", "spy"):
        assert student in text


def test_a_formula_in_the_gradebook_reaches_the_csv_as_text(graded, tmp_path):
    """Does a student whose name a spreadsheet would run as a formula come out of `export` as text?"""
    from nbgrader.api import Gradebook

    attacked, _, _ = graded
    with Gradebook(course.gradebook_url(attacked)) as gb:
        gb.update_or_create_student("forger", first_name="=HYPERLINK(\"http://x\")", last_name="@SUM(A1)")
    _grader("export", "--course-dir", str(attacked), "--out", str(tmp_path))
    with open(tmp_path / "grades.csv", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert "'=HYPERLINK(\"http://x\")" in cells and "'@SUM(A1)" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@"))]
