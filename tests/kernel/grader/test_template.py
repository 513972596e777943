"""Is a kernel forked from the template as isolated as one started from scratch, and graded the same?

The template (one per grading thread) imports everything once and forks each kernel into
namespaces of its own. These tests run consecutive notebooks on one template, as a grading
worker does, and look from inside the kernels and from the trusted side. The sandbox's own
guarantees are tested for both kinds of kernel in test_sandbox.py.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from demo.students import ASSIGNMENT, build_class
from grader.pipeline.course import SOLUTIONS
from grader.runtime.execute import execute_notebook
from grader.runtime.grade import Limits, grade_notebook
from grader.runtime.notebook import read_notebook
from grader.runtime.sandbox import bubblewrap
from grader.runtime.template import KernelTemplate, thread_template
from grader.sources import read_source


@pytest.fixture(scope="module")
def template():
    if bubblewrap() is None:
        pytest.fail("bubblewrap is required on Linux: apt-get install bubblewrap")
    started = KernelTemplate(bubblewrap())
    yield started
    started.close()


def _run(template, tmp_path, *sources, **options):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    (work / "data.txt").write_text("the submission's side file")
    options.setdefault("cell_timeout", 120)
    executed, events = execute_notebook(nb, workdir=work, template=template, **options)
    printed = ["".join(o.get("text", "") + (f"{o.ename}: {o.evalue}" if "ename" in o else "")
                       for o in c.outputs) for c in executed.cells]
    return printed, events


def _last_json(text):
    return json.loads(text.strip().splitlines()[-1])


#: Writes a marker into every folder the kernel can write to (and into /dev/shm), and reports them.
LEAVE_MARKERS = '''import os, json
written = []
def visit(folder, depth=0):
    if depth > 12 or folder in ("/proc", "/sys"):
        return
    if os.access(folder, os.W_OK):
        try:
            with open(os.path.join(folder, "left-by-the-previous-kernel"), "w") as handle:
                handle.write("x")
            written.append(folder)
        except OSError:
            pass
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            visit(entry.path, depth + 1)
visit("/")
import numpy, attention_course.checks
numpy.pi = 3.0
attention_course.checks.planted = True
print(json.dumps(written))'''

FIND_MARKERS = '''import os, json
found = []
for folder, dirs, files in os.walk("/"):
    if folder.startswith(("/proc", "/sys")):
        dirs[:] = []
        continue
    if "left-by-the-previous-kernel" in files:
        found.append(folder)
import numpy, attention_course.checks
print(json.dumps({"found": found, "pi": numpy.pi, "planted": hasattr(attention_course.checks, "planted")}))'''


def test_nothing_a_kernel_writes_or_changes_reaches_the_next_kernel(template, tmp_path):
    """Does a kernel that writes everywhere it can, and changes pre-imported modules, leave nothing
    for the next kernel of the same template?"""
    (written,), _ = _run(template, tmp_path, LEAVE_MARKERS)
    written = _last_json(written)
    assert any(folder.startswith("/tmp") for folder in written)  # it did write (its own /tmp)
    (seen,), events = _run(template, tmp_path, FIND_MARKERS)
    assert events == []
    assert _last_json(seen) == {"found": [], "pi": 3.141592653589793, "planted": False}


def test_a_forked_kernel_holds_no_capability_runs_the_no_fork_filter_and_sees_only_its_own_folder(
        template, tmp_path):
    """Is the kernel PID 1 of its own namespace, without capability, under seccomp, working in a copy
    of its files, and does the template's folder show it nothing of another kernel?"""
    code = ("import os, json\n"
            "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
            "root = os.path.dirname(os.path.dirname(os.environ['JUPYTER_RUNTIME_DIR']))\n"
            "print(json.dumps({'pid': os.getpid(),"
            " 'cap': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd')],"
            " 'seccomp': status['Seccomp'].strip(), 'cwd': os.getcwd(), 'files': sorted(os.listdir('.')),"
            " 'root': sorted(os.listdir(root))}))")
    (first,), _ = _run(template, tmp_path, code)
    (second,), _ = _run(template, tmp_path, code)
    first, second = _last_json(first), _last_json(second)
    assert first["pid"] == 1
    assert first["cap"] == ["0000000000000000"] * 3
    assert first["seccomp"] == "2"
    assert first["cwd"] == "/tmp/work" and first["files"] == ["data.txt"]
    assert len(first["root"]) == len(second["root"]) == 1 and first["root"] != second["root"]


def test_the_template_cannot_be_signalled_or_read_from_a_kernel(template, tmp_path):
    """Can learner code kill the template, or read its memory or environment through /proc?"""
    code = ("import os, json, signal\nresult = {}\nme = os.readlink('/proc/self')\n"
            "for pid in [p for p in os.listdir('/proc') if p.isdigit() and p != me]:\n"
            "    try:\n        command = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
            "    except OSError:\n        continue\n"
            "    if b'grader.kernel.template' not in command:\n        continue\n"
            "    try:\n        os.kill(int(pid), signal.SIGKILL); result['kill'] = 'sent'\n"
            "    except OSError as e:\n        result['kill'] = type(e).__name__\n"
            "    for name in ('mem', 'environ', 'maps'):\n"
            "        try:\n            open(f'/proc/{pid}/{name}', 'rb').read(10); result[name] = 'read'\n"
            "        except OSError as e:\n            result[name] = type(e).__name__\n"
            "print(json.dumps(result))")
    (printed,), _ = _run(template, tmp_path, code)
    result = _last_json(printed)
    assert result["kill"] == "ProcessLookupError"  # not in the kernel's PID namespace
    assert "read" not in (result["mem"], result["environ"], result["maps"])
    assert template.alive
    (again,), events = _run(template, tmp_path, "print('still serving')")
    assert again == "still serving\n" and events == []


def test_a_kernel_inherits_no_descriptor_of_the_template(template, tmp_path):
    """Does the kernel hold none of the pipes the trusted side talks to the template through?"""
    pipes = {f"pipe:[{os.fstat(f.fileno()).st_ino}]"
             for f in (template.process.stdin, template.process.stdout)}
    code = ("import os, json\ntargets = []\nfor fd in os.listdir('/proc/self/fd'):\n"
            "    try:\n        targets.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
            "    except OSError:\n        pass\nprint(json.dumps(targets))")
    (printed,), _ = _run(template, tmp_path, code)
    assert not pipes & set(_last_json(printed))


def test_limits_and_replays_hold_in_a_forked_kernel(template, tmp_path):
    """Time limit, a crash with replay, the memory limit: as for a kernel started from scratch."""
    printed, events = _run(template, tmp_path, "x = 41", "while True: pass", "import os\nos._exit(3)",
                           "print(x + 1)", "import numpy as np\na = np.ones(2 * 1024**3 // 8 + 10)",
                           cell_timeout=3)
    assert [(e.index, e.kind) for e in events] == [(1, "timeout"), (2, "kernel_died")]
    assert printed[3] == "42\n"
    assert "MemoryError" in printed[4]  # NumPy's _ArrayMemoryError: the 2 GiB address-space limit


def _coalesced(outputs):
    """Consecutive stream outputs of one stream joined: how ipykernel splits a print into
    messages depends on when its output thread flushes, in any two kernels."""
    joined = []
    for output in outputs:
        if output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream" \
                and joined[-1]["name"] == output["name"]:
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + output["text"]}
        else:
            joined.append(dict(output))
    return joined


def _outputs(nb):
    """Every code cell's outputs, with what differs between any two kernels taken out."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = json.dumps(_coalesced(cell.outputs), sort_keys=True)
        found.append(re.sub(r"ipykernel_\d+", "ipykernel_N", outputs))  # the kernel's PID in file names
    return found


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    return {s.student: s for s in build_class(tmp_path_factory.mktemp("download"), ASSIGNMENT)}


@pytest.mark.parametrize("student", ["ada", "cleo", "dev", "lea"])
def test_a_forked_kernel_grades_exactly_like_a_fresh_one(template, tmp_path, demo_class, student):
    """Full marks, blank, an overflow and a kernel killer: the same points, the same outputs cell by
    cell (figures included, byte for byte) with a forked kernel as with a fresh one?"""
    learner = read_notebook(demo_class[student].file)
    source = read_source(ASSIGNMENT, SOLUTIONS)
    graded = {}
    for name, kernels in (("fresh", None), ("template", template)):
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        graded[name] = grade_notebook(learner, source, workdir=work, seed=5, limits=Limits(),
                                      template=kernels)
    fresh, forked = graded["fresh"], graded["template"]
    assert {r.grade_id: r.points for r in forked.results} == demo_class[student].expected
    assert [(r.grade_id, r.points, r.feedback) for r in forked.results] == \
           [(r.grade_id, r.points, r.feedback) for r in fresh.results]
    assert [(e.index, e.kind) for e in forked.events] == [(e.index, e.kind) for e in fresh.events]
    assert _outputs(forked.notebook) == _outputs(fresh.notebook)
    if student == "ada":
        assert sum("image/png" in json.dumps(o) for o in _outputs(forked.notebook)) == 3


def test_each_thread_gets_its_own_template():
    """Does a thread get one template for all its notebooks, and another thread another one?"""
    import threading

    mine = thread_template()
    seen = []
    worker = threading.Thread(target=lambda: seen.append(thread_template()))
    worker.start()
    worker.join()
    try:
        assert mine is thread_template() and mine.alive
        assert seen[0] is not mine and seen[0].alive
    finally:
        seen[0].close()


def test_a_prestarted_template_is_the_one_the_first_notebook_gets(tmp_path):
    """Does a pool worker's initializer start the template without waiting, and the first task use it?

    All in one thread, as in a pool worker: a template dies with the thread that started it
    (bubblewrap's --die-with-parent).
    """
    import threading

    from grader.runtime import template as template_module

    got = {}

    def worker():
        # a folder that is not there is left out
        template_module.prestart_template([str(tmp_path), str(tmp_path / "missing")])
        started = template_module._local.template
        got["ready_before"] = started.ready
        used = thread_template([tmp_path])
        try:
            got["same"], got["hidden"] = used is started, used.hidden
            got["run"] = _run(used, tmp_path, "print(6 * 7)")
        finally:
            used.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert got["ready_before"] is None  # not waited for by the initializer
    assert got["same"] and got["hidden"] == (tmp_path.resolve(),)
    printed, events = got["run"]
    assert printed == ["42\n"] and not events
