"""What does a grading kernel see and what may it use? (Linux with bubblewrap; real kernels.)

The sandbox is an allow-list: the system's libraries, the Python environment (trusted packages
hidden), the safe site, the submission's files and the checks' inputs, read-only; a private,
size-capped /tmp; its own socket folder only while it starts. Each test runs a small notebook
that tries to reach past one of these limits and reports what happened.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import nbformat
import pytest

from attention_course import record as _record
from grader.runtime.execute import execute_notebook
from grader.runtime.sandbox import TMP_BYTES, bubblewrap


@pytest.fixture(autouse=True)
def _require_bubblewrap():
    if bubblewrap() is None:
        pytest.fail("bubblewrap is required on Linux: apt-get install bubblewrap")


def _run(tmp_path, *sources, **options):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    executed, events = execute_notebook(nb, workdir=work, **options)
    printed = ["".join(o.get("text", "") + o.get("evalue", "") for o in c.outputs) for c in executed.cells]
    return printed, events


@pytest.fixture
def outside(tmp_path):
    """Host paths a learner would like to read: another checkout, a download folder, a socket.

    They live in /var/tmp (never hidden by default, unlike /tmp and $HOME)."""
    root = Path(tempfile.mkdtemp(prefix="outside-", dir="/var/tmp"))
    (root / "checkout" / "attention_ref").mkdir(parents=True)
    (root / "checkout" / "attention_ref" / "softmax.py").write_text("def softmax(x): ...\n")
    (root / "downloads").mkdir()
    (root / "downloads" / "bob_01_attention_weights.ipynb").write_text("{}")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(root / "gradebook.sock"))
    server.listen(1)
    try:
        yield root
    finally:
        server.close()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_no_host_path_outside_the_allow_list_is_visible(tmp_path, outside):
    """Are another checkout, a download folder, the project, $HOME, /run and /etc/passwd invisible?"""
    project = Path(__file__).resolve().parents[3]
    paths = [outside / "checkout" / "attention_ref" / "softmax.py", outside / "downloads",
             project / "attention_ref", project / "solutions", Path.home() / ".bashrc", "/run", "/etc/passwd",
             "/var/tmp"]
    code = "import os\n" + "".join(f"print({str(p)!r}, os.path.exists({str(p)!r}))\n" for p in paths)
    (printed,), _ = _run(tmp_path, code)
    assert printed.count(" False") == len(paths), printed


def test_a_host_unix_socket_cannot_be_reached(tmp_path, outside):
    """Can learner code connect to a unix socket of the host (a gradebook server, a Docker socket)?"""
    code = ("import socket\ns = socket.socket(socket.AF_UNIX)\n"
            f"try:\n    s.connect({str(outside / 'gradebook.sock')!r}); print('connected')\n"
            "except OSError as e: print('refused', e.errno)")
    (printed,), _ = _run(tmp_path, code)
    assert printed.startswith("refused"), printed


def test_the_instructors_environment_does_not_reach_the_kernel(tmp_path, monkeypatch):
    """Is a variable of the grading process (a database password, say) absent from the kernel?"""
    monkeypatch.setenv("GRADEBOOK_PASSWORD", "hunter2")
    code = "import os\nprint(sorted(os.environ), os.environ.get('GRADEBOOK_PASSWORD'))"
    (printed,), _ = _run(tmp_path, code)
    assert "hunter2" not in printed and "GRADEBOOK_PASSWORD" not in printed


def test_tmp_is_private_and_capped(tmp_path):
    """Does writing past the private /tmp's size fail with ENOSPC instead of filling the host?"""
    code = ("import os\nwritten = 0\ntry:\n    for i in range(40):\n"
            "        with open(f'/tmp/f{i}', 'wb') as f:\n            f.write(b'x' * 32 * 2**20)\n"
            "        written += 32\nexcept OSError as e:\n    print('stopped', e.errno, written)")
    (printed,), _ = _run(tmp_path, code)
    assert printed.startswith("stopped 28"), printed  # ENOSPC
    assert int(printed.split()[-1]) * 2**20 <= TMP_BYTES


def test_no_child_process_can_be_started(tmp_path):
    """Are fork, subprocess and a fork bomb refused (threads still work)?"""
    code = ("import os, subprocess, threading\n"
            "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
            "for name, f in [('fork', os.fork), ('subprocess', lambda: subprocess.run(['true']))]:\n"
            "    try:\n        f(); print(name, 'allowed')\n"
            "    except OSError as e:\n        print(name, 'refused', e.errno)\n"
            "n = 0\ntry:\n    while n < 500:\n        os.fork(); n += 1\n"
            "except OSError:\n    print('bomb', n)")
    (printed,), _ = _run(tmp_path, code)
    assert printed.splitlines() == ["thread", "fork refused 1", "subprocess refused 1", "bomb 0"], printed


def test_the_socket_folder_is_not_writable_once_the_kernel_runs(tmp_path):
    """Can learner code fill the folder it shares with the grader (its IPC sockets)?"""
    code = ("import os\ntry:\n    open(os.environ['JUPYTER_RUNTIME_DIR'] + '/junk', 'w').write('x')\n"
            "    print('written')\nexcept OSError as e:\n    print('refused', e.errno)")
    (printed,), _ = _run(tmp_path, code)
    assert printed.startswith("refused"), printed


def test_the_notebook_has_a_time_limit_replays_included(tmp_path):
    """The cells sleep 10 s in all, within a 15 s notebook limit; do a crash's replays (4 s more, and
    a second kernel) count, so that the last cells are stopped or not run, each saying so?"""
    sleep = "import time\ntime.sleep(2)\nprint('slept')"
    outputs, events = _run(tmp_path, sleep, sleep, "import os\nos._exit(1)", sleep, sleep, sleep,
                           cell_timeout=5, notebook_timeout=15)
    assert outputs[:2] == ["slept\n", "slept\n"]
    kinds = [(e.index, e.kind) for e in events]
    assert kinds[0] == (2, "kernel_died")
    assert kinds[1:] and {kind for _, kind in kinds[1:]} == {"notebook_timeout"} and kinds[-1][0] == 5
    assert "time limit" in outputs[5]


def test_outputs_are_capped_per_notebook_whatever_their_type(tmp_path):
    """Are big HTML displays cut once the notebook's outputs pass their budget?"""
    cell = "from IPython.display import HTML, display\ndisplay(HTML('<p>' + 'x' * 600_000 + '</p>'))"
    outputs, events = _run(tmp_path, *[cell] * 6, output_limit=1_000_000, notebook_output_limit=2_000_000)
    cut = [e.index for e in events if e.kind == "output_truncated"]
    assert cut == [3], events  # cells 0-2 fit (1.8 MB), cell 3 crosses, 4 and 5 are dropped silently
    assert "notebook's outputs passed" in outputs[3]


def test_a_check_record_outside_a_test_cell_is_dropped(tmp_path):
    """Is a forged record shown by an ordinary cell dropped and reported, and kept in a test cell?"""
    record = {"exercise": "softmax", "mode": "hidden", "outcomes": []}
    forge = f"from IPython.display import display\ndisplay({{{_record.MIME!r}: {record!r}}}, raw=True)"
    outputs, events = _run(tmp_path, forge, forge, record_cells={1})
    assert [(e.index, e.kind) for e in events] == [(0, "forged_record")]
    assert "dropped" in outputs[0]


def test_the_reference_cannot_be_imported_not_even_as_an_empty_package(tmp_path):
    """Does ``import attention_ref`` fail with a message that says why, instead of importing the
    empty folder left over the installed copy as a namespace package?"""
    code = ("try:\n    import attention_ref\n    print('imported', attention_ref.__path__)\n"
            "except ImportError as error:\n    print(type(error).__name__, error)")
    printed, _ = _run(tmp_path, code)
    assert printed[0].startswith("ModuleNotFoundError"), printed
    assert "not available while grading" in printed[0]
