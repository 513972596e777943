"""A real JupyterLab for the browser tests: student notebooks, the server, and what a student clicks.

The server runs from the repository root (as ``make lab`` does, so that nbgrader's
Validate reads ``nbgrader_config.py``) on 127.0.0.1 with a token, on a temporary
root folder, with its own Jupyter config, data, runtime and settings folders so that
nothing of the developer's own Jupyter set-up takes part.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
from student_notebooks import SOLUTION_MARKERS, blank_notebook, filled_notebook  # noqa: F401 - re-exported

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of the browser tests (git-ignored).
ARTIFACTS = ROOT / "test-artifacts" / "browser"
#: Set to 1 to skip the browser tests on a machine without Chromium.
SKIP_VARIABLE = "ATTENTION_SKIP_BROWSER"
#: Names under which Chromium (or Chrome) is looked up on PATH; CHROMIUM=/path overrides.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: JupyterLab settings for a test: every cell in the DOM (no windowing), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}

def find_chromium():
    """Path of the Chromium to drive: $CHROMIUM, else the first of :data:`BROWSER_NAMES` on PATH."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def write_notebook(nb, root, folder, assignment):
    """Write ``nb`` to ``root/folder/assignment/assignment.ipynb``; return its path relative to root."""
    relative = Path(folder) / assignment / f"{assignment}.ipynb"
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / relative)
    return relative.as_posix()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running ``jupyter lab``: its process, address, token, root folder and log file."""

    process: subprocess.Popen
    url: str
    token: str
    root: Path
    log: Path

    def log_tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def notebook_url(self, path):
        """The address that opens ``path`` in a workspace of its own (nothing restored from before)."""
        workspace = "w" + secrets.token_hex(4)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"


def _lab_environment(home):
    env = dict(os.environ)
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                             ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                             ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        env[variable] = str(home / folder)
        (home / folder).mkdir(parents=True, exist_ok=True)
    for name, settings in LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.pop("JUPYTER_PATH", None)
    return env


def start_lab(root, home, token, timeout=120):
    """Start JupyterLab on ``root`` and wait until it answers; stop it again if it never does.

    Parameters
    ----------
    root : pathlib.Path
        The folder JupyterLab serves.
    home : pathlib.Path
        Where its private Jupyter folders and its log go.
    token : str
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    LabServer
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "jupyter-lab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=_lab_environment(home), stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(process, f"http://127.0.0.1:{port}", token, root, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            request = urllib.request.Request(f"{server.url}/api/status",
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_lab(server)
            raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{server.log_tail()}")
        time.sleep(0.5)


def stop_lab(server, timeout=20):
    """Stop the server (it shuts its kernels down), then anything left in its process group."""
    process = server.process
    if process.poll() is None:
        process.terminate()  # SIGTERM: Jupyter's clean shutdown, kernels included
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group we started: stray kernels, if any
    except ProcessLookupError:
        pass


# ---- in the page ---------------------------------------------------------------------------------

#: The notebook on show.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

#: True when every code cell shows an execution count and none is queued or running.
ALL_CELLS_RAN = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const prompts = panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')] : [];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def open_notebook(page, server, path, timeout=90_000):
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(server.notebook_url(path))
    page.locator(f"{PANEL} .jp-CodeCell").first.wait_for(timeout=timeout)
    wait_idle(page, timeout)


#: True when the visible notebook has a kernel and the kernel is idle.
KERNEL_IDLE = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const name = panel && panel.querySelector('.jp-KernelName');
    const state = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
    return !!(name && state && name.textContent.trim() !== 'No Kernel' && state.dataset.status === 'idle');
}"""


def wait_idle(page, timeout=120_000):
    page.wait_for_function(KERNEL_IDLE, timeout=timeout)


def run_menu_command(page, menu, command):
    """Click a main-menu entry, e.g. ``run_menu_command(page, "Run", "runmenu:run-all")``."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
    page.locator(f".lm-Menu-item[data-command='{command}']").first.click()


def run_all_cells(page, timeout=180_000):
    """Run all cells from the Run menu and wait until every code cell has run."""
    run_menu_command(page, "Run", "runmenu:run-all")
    page.wait_for_function(ALL_CELLS_RAN, timeout=timeout)
    wait_idle(page, timeout)


def code_cell(page, text):
    """The code cell whose source contains ``text`` (exactly one)."""
    cells = page.locator(f"{PANEL} .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=text))
    count = cells.count()
    if count != 1:
        raise AssertionError(f"expected one code cell containing {text!r}, found {count}")
    return cells.first


def run_cell(page, cell, timeout=60_000):
    """Select ``cell`` in command mode, run it with Shift+Enter and wait for its execution count."""
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=timeout)


def validate(page, timeout=240_000):
    """Press nbgrader's Validate button; return the result dialog (the caller closes it)."""
    page.locator(f"{PANEL} .validate-button").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=timeout)
    return dialog


def close_dialog(page):
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached")


def saved_notebook(server, path):
    return nbformat.read(server.root / path, as_version=4)


def error_outputs(nb):
    """(cell id, is a test cell, ename, evalue) of every error output of a notebook."""
    found = []
    for cell in nb.cells:
        is_test = bool(cell.metadata.get("nbgrader", {}).get("grade")) and cell.cell_type == "code"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((cell.id, is_test, out.get("ename"), out.get("evalue", "")))
    return found
