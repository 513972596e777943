"""A real class on this machine for the tests: JupyterHub, its proxy, unix users and the nbgrader exchange.

:func:`running_hub` follows deploy/hub/README.md with the test's own folders: it creates
an instructor and two students as unix users (homes 0700 under a fresh base folder),
the exchange with the permissions nbgrader needs, the machine-wide nbgrader config and
the per-role Jupyter config folders, copies the course into the instructor's home
(``~/attention-course``, as a ``git clone`` would), and starts JupyterHub with
``deploy/hub/jupyterhub_config.py`` on 127.0.0.1 — the hub starts
configurable-http-proxy and, as users log in, their single-user servers. At the end it
stops every process it started (hub, proxy, users' servers, their kernels and anything
else running as the class's users), checks that none survived, and removes the users and
the base folder.

It installs nothing. It needs, beforehand (``make hub-env``, which ``.ci/run`` runs):

- ``jupyterhub`` in the Python that runs the tests (the ``test`` extra);
- configurable-http-proxy from npm in ``.hub/node`` (or ``$ATTENTION_HUB_PROXY``);
- the students' Python environment at ``$ATTENTION_STUDENT_ENV`` (default
  ``/opt/attention-course/student``): readable by every user, with the student wheel,
  JupyterLab, nbgrader and jupyterhub, and neither ``attention_ref`` nor ``grader``;
- the instructors' environment at ``$ATTENTION_INSTRUCTOR_ENV`` (default
  ``/opt/attention-course/instructor``): both wheels and jupyterhub; when it is not readable
  by everyone, the instructor is made a member of its group (``make hub-env``: 0750, group
  ``attention-instructors``);
- root (to create users and start servers as them).

:func:`missing_prerequisites` says what is missing, so that a test can fail (or skip) with
the fix.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "hub"
#: Written into the GECOS field of every user the harness creates: a user without it is never touched.
MARKER = "attention-course hub test user (tests/support/hub.py)"
#: The class's Python environments (the single-user servers' and kernels'), as `make hub-env` builds them.
HUB_ENVS = Path(os.environ.get("ATTENTION_HUB_ENVS", "/opt/attention-course"))
DEFAULT_STUDENT_ENV = Path(os.environ.get("ATTENTION_STUDENT_ENV", HUB_ENVS / "student"))
DEFAULT_INSTRUCTOR_ENV = Path(os.environ.get("ATTENTION_INSTRUCTOR_ENV", HUB_ENVS / "instructor"))
#: configurable-http-proxy as `make hub-env` installs it.
DEFAULT_PROXY = Path(os.environ.get("ATTENTION_HUB_PROXY", ROOT / ".hub" / "node" / "node_modules" / ".bin"
                                    / "configurable-http-proxy"))
#: What the instructor's course checkout holds (a `git clone` of the repository, less tests and docs).
COURSE_FILES = ("nbgrader_config.py", "pyproject.toml", "README.md", "grader", "attention_ref", "solutions",
                "notebooks", "student")
#: Folder of the course checkout in the instructor's home (the default of deploy/hub's instructor config).
CHECKOUT = "attention-course"
#: JupyterLab settings for a test: every cell in the DOM (no windowing), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


class HubUnavailable(RuntimeError):
    """A prerequisite is missing; the message says which and how to get it."""


@dataclass(frozen=True)
class ClassUser:
    """A unix user of the class, as created by the harness."""

    name: str
    role: str  # "instructor" or "student"
    uid: int
    gid: int
    home: Path

    @property
    def checkout(self):
        """The instructor's course checkout (``~/attention-course``)."""
        return self.home / CHECKOUT


@dataclass
class Hub:
    """A running class: the hub's public URL, the shared password, the users and folders."""

    url: str
    password: str
    course_id: str
    users: dict[str, ClassUser]
    base: Path
    exchange: Path
    student_env: Path
    instructor_env: Path
    jupyter_etc: Path
    process: subprocess.Popen
    log: Path
    started: list = field(default_factory=list)  # (pid, start time) of every process seen running

    @property
    def instructor(self):
        return next(u for u in self.users.values() if u.role == "instructor")

    @property
    def students(self):
        return [u for u in self.users.values() if u.role == "student"]

    def log_tail(self, lines=60):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def server_environment(self, user):
        """The environment the hub gave ``user``'s running server (what its terminals get)."""
        for pid in _pids():
            if _uid(pid) == user.uid and b"jupyterhub-singleuser" in _cmdline(pid):
                raw = Path(f"/proc/{pid}/environ").read_bytes()
                pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
                env = {k.decode(): v.decode() for k, v in pairs}
                for private in ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"):
                    env.pop(private, None)
                return env
        raise RuntimeError(f"{user.name} has no running server: log in first")

    def run_as(self, user, args, *, cwd=None, timeout=900, check=True, env=None):
        """Run a command as ``user``, with the environment of their server, as in a Lab terminal.

        Returns
        -------
        subprocess.CompletedProcess
            With ``stdout`` (stderr merged) as text.

        Raises
        ------
        RuntimeError
            When ``check`` and the command fails; the message carries its output.
        """
        environment = env if env is not None else self.server_environment(user)
        groups = os.getgrouplist(user.name, user.gid)  # an instructor reads the instructors' environment
        done = subprocess.run(args, cwd=cwd or user.home, env=environment, user=user.uid, group=user.gid,
                              extra_groups=groups, umask=0o022, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))} as {user.name} exited with {done.returncode}:\n"
                               f"{done.stdout[-4000:]}")
        return done

    def can_read(self, user, path):
        """Whether ``user`` can read ``path`` (a file's bytes, or a folder's listing), asked as that user."""
        probe = ("import os, sys\np = sys.argv[1]\n"
                 "try:\n    os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1)\n"
                 "except PermissionError:\n    sys.exit(3)\n")
        done = self.run_as(user, [str(self.student_env / "bin" / "python"), "-c", probe, str(path)],
                           check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(user.home)})
        if done.returncode not in (0, 3):
            raise RuntimeError(f"could not test {path} as {user.name}: {done.stdout}")
        return done.returncode == 0


def missing_prerequisites(student_env=DEFAULT_STUDENT_ENV, instructor_env=DEFAULT_INSTRUCTOR_ENV,
                          proxy=DEFAULT_PROXY):
    """What :func:`running_hub` lacks on this machine, as one message per item (empty: nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root: the hub starts each user's server as that unix user (run the test as root)")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} (Debian: apt-get install passwd)")
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        missing.append(f"jupyterhub in {sys.executable}: pip install -e '.[test]'")
    if not Path(proxy).is_file():
        missing.append(f"configurable-http-proxy at {proxy}: make hub-env (npm install --prefix .hub/node)")
    for role, prefix in (("students'", student_env), ("instructors'", instructor_env)):
        if not (Path(prefix) / "bin" / "jupyterhub-singleuser").is_file():
            missing.append(f"the {role} Python environment at {prefix} (ATTENTION_STUDENT_ENV and "
                           "ATTENTION_INSTRUCTOR_ENV choose others): make hub-env")
    return missing


# ---- processes ------------------------------------------------------------------------------------

def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _read(path):
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _cmdline(pid):
    return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ")


def _uid(pid):
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"Uid:"):
            return int(line.split()[1])
    return None


def _stat(pid):
    """(parent pid, start time) of a process, or None when it is gone."""
    raw = _read(f"/proc/{pid}/stat")
    if not raw:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _alive(pid, start):
    """Whether the process ``pid`` that started at ``start`` still runs (a reused pid does not count)."""
    stat = _stat(pid)
    if stat is None:
        return False
    state = _read(f"/proc/{pid}/stat")
    if b") Z " in state:  # a zombie: exited, waiting for its parent to reap it
        return False
    return stat[1] == start


def _descendants(root):
    children = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat:
            children.setdefault(stat[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _processes_of(uids):
    return [pid for pid in _pids() if _uid(pid) in uids]


def _snapshot(pids):
    return [(pid, stat[1]) for pid in pids if (stat := _stat(pid))]


def _kill(pid, start, sig):
    if _alive(pid, start):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


# ---- users and folders ------------------------------------------------------------------------------

def _existing_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _remove_user(name):
    entry = _existing_user(name)
    if entry is None:
        return
    for pid, start in _snapshot(_processes_of({entry.pw_uid})):
        _kill(pid, start, signal.SIGKILL)
    subprocess.run(["userdel", name], check=False, capture_output=True)
    with contextlib.suppress(KeyError):  # USERGROUPS_ENAB removes the group; make sure on other systems
        grp.getgrnam(name)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


def _create_user(name, role, homes, groups=()):
    entry = _existing_user(name)
    if entry is not None:
        if entry.pw_gecos != MARKER:
            raise HubUnavailable(f"a user {name!r} exists and was not created by this harness: "
                                 "it is left alone; choose other names (prefix=...)")
        _remove_user(name)  # left over by an interrupted run
    home = homes / name
    extra = ["--groups", ",".join(groups)] if groups else []
    subprocess.run(["useradd", "--comment", MARKER, "--home-dir", str(home), "--create-home",
                    "--shell", "/bin/bash", "--user-group", *extra, name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    home.chmod(0o700)  # nobody else reads a user's files, whatever the system's HOME_MODE
    return ClassUser(name, role, entry.pw_uid, entry.pw_gid, home)


def _chown_tree(path, user):
    for folder, dirs, files in os.walk(path):
        os.chown(folder, user.uid, user.gid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), user.uid, user.gid, follow_symlinks=False)


def _write_lab_settings(user):
    settings = user.home / ".jupyter" / "lab" / "user-settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    _chown_tree(user.home / ".jupyter", user)


def copy_course(user):
    """Copy the course into ``~/attention-course`` of ``user``, owned by them (what a `git clone` gives)."""
    target = user.checkout
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for name in COURSE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    _chown_tree(target, user)
    return target


def render_global_config(exchange, course_id):
    """deploy/hub's machine-wide nbgrader_config.py with this class's exchange root and course id."""
    text = (DEPLOY / "jupyter" / "nbgrader_config.py").read_text()
    replaced = {'c.CourseDirectory.course_id = "attention"': f"c.CourseDirectory.course_id = {course_id!r}",
                'c.Exchange.root = "/srv/nbgrader/exchange"': f"c.Exchange.root = {str(exchange)!r}"}
    for old, new in replaced.items():
        if old not in text:
            raise RuntimeError(f"deploy/hub/jupyter/nbgrader_config.py no longer has the line {old!r}: "
                               "update tests/support/hub.py")
        text = text.replace(old, new)
    return text


def setup_exchange(exchange, course_id, instructor):
    """The exchange as deploy/hub/README.md sets it up: root 1777, the course folder the instructor's.

    nbgrader insists on a root that everybody can write (mode 0777; the sticky bit, which it
    does not look at, keeps users from removing or renaming each other's folders there). The
    course folder is created beforehand, owned by the instructor, so that no student can
    create it first. The instructor's ``nbgrader release_assignment`` creates outbound/
    (0755), inbound/ (2733: students write, only the instructor lists) and feedback/ (0711)
    inside it.
    """
    exchange.mkdir()
    exchange.chmod(0o1777)
    course = exchange / course_id
    course.mkdir(mode=0o755)
    course.chmod(0o755)
    os.chown(course, instructor.uid, instructor.gid)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_ready(hub, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if hub.process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with code {hub.process.returncode}:\n{hub.log_tail()}")
        try:
            with urllib.request.urlopen(f"{hub.url}/hub/api/", timeout=5) as answer:
                if answer.status == 200 and "version" in json.loads(answer.read()):
                    with urllib.request.urlopen(f"{hub.url}/hub/login", timeout=5) as login:
                        if login.status == 200:
                            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyterhub did not answer within {timeout} s:\n{hub.log_tail()}")
        time.sleep(0.5)


# ---- the class ----------------------------------------------------------------------------------------

def _reading_groups(prefix):
    """The group a user must be in to read an environment that is not readable by everyone, if any."""
    info = os.stat(prefix)
    if info.st_mode & 0o005 == 0o005:
        return ()
    if info.st_gid == 0:
        raise HubUnavailable(f"{prefix} is closed to everyone but root's group: make hub-env (as root) gives "
                             "it a group of instructors")
    return (grp.getgrgid(info.st_gid).gr_name,)


@contextlib.contextmanager
def running_hub(*, prefix="attn-", students=2, course_id="attention", student_env=DEFAULT_STUDENT_ENV,
                instructor_env=DEFAULT_INSTRUCTOR_ENV, proxy=DEFAULT_PROXY, log_copy=None, timeout=180,
                base_dir="/var/tmp"):
    """Set up a class and run its hub; stop and remove everything at the end.

    Parameters
    ----------
    prefix : str
        Start of the unix user names: ``<prefix>instructor``, ``<prefix>student1``, ...
    students : int
        Number of student accounts.
    course_id : str
    student_env, instructor_env, proxy : path-like
        The class's Python environments and configurable-http-proxy.
    log_copy : path-like, optional
        Where to copy the hub's log at the end (the base folder is removed).
    timeout : float
        Seconds to wait for the hub.
    base_dir : path-like
        Where the class's folder (homes, exchange, config, the hub's state) is made.

    Yields
    ------
    Hub

    Raises
    ------
    HubUnavailable
        When a prerequisite is missing (nothing was changed then).
    """
    missing = missing_prerequisites(student_env, instructor_env, proxy)
    if missing:
        raise HubUnavailable("the JupyterHub test needs: " + "; ".join(missing))
    student_env, instructor_env = Path(student_env), Path(instructor_env)
    # Not under /tmp, which the grader's sandbox hides anyway: the exchange and the homes lie where a
    # real machine has them (/srv, /home), outside it, so that the test sees what the sandbox must hide.
    base = Path(tempfile.mkdtemp(prefix="attention-hub-", dir=base_dir))
    base.chmod(0o755)  # users reach their homes, the exchange and the config through it
    users = {}
    hub = None
    try:
        homes = base / "home"
        homes.mkdir(mode=0o755)
        for name, role in [(f"{prefix}instructor", "instructor")] + [
                (f"{prefix}student{i}", "student") for i in range(1, students + 1)]:
            groups = _reading_groups(instructor_env) if role == "instructor" else ()
            users[name] = _create_user(name, role, homes, groups)
            _write_lab_settings(users[name])
        instructor = next(u for u in users.values() if u.role == "instructor")
        copy_course(instructor)

        exchange = base / "exchange"
        setup_exchange(exchange, course_id, instructor)
        etc = base / "etc" / "jupyter"
        shutil.copytree(DEPLOY / "jupyter", etc)
        (etc / "nbgrader_config.py").write_text(render_global_config(exchange, course_id))
        state = base / "state"
        state.mkdir(mode=0o700)

        port, api_port, proxy_port = _free_ports(3)
        password = secrets.token_urlsafe(12)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "JPY"))}
        env.update({
            "ATTENTION_STUDENT_ENV": str(student_env), "ATTENTION_INSTRUCTOR_ENV": str(instructor_env),
            "ATTENTION_HUB_INSTRUCTORS": instructor.name,
            "ATTENTION_HUB_STUDENTS": ",".join(u.name for u in users.values() if u.role == "student"),
            "ATTENTION_JUPYTER_ETC": str(etc), "ATTENTION_HUB_STATE": str(state),
            "ATTENTION_HUB_PORT": str(port), "ATTENTION_HUB_API_PORT": str(api_port),
            "ATTENTION_HUB_PROXY_API_PORT": str(proxy_port), "ATTENTION_HUB_PROXY": str(proxy),
            "ATTENTION_HUB_TEST_PASSWORD": password,
        })
        log = base / "jupyterhub.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                                        str(DEPLOY / "jupyterhub_config.py")],
                                       cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        hub = Hub(f"http://127.0.0.1:{port}", password, course_id, users, base, exchange, student_env,
                  instructor_env, etc, process, log)
        hub.started.extend(_snapshot([process.pid]))
        _wait_ready(hub, timeout)
        yield hub
    finally:
        survivors = []
        try:
            if hub is not None:
                survivors = _stop(hub, state / "jupyterhub-proxy.pid")
                if log_copy is not None:
                    Path(log_copy).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(hub.log, log_copy)
            uids = {u.uid for u in users.values()}
            survivors += [f"{pid} {_cmdline(pid)[:120]!r}" for pid in _processes_of(uids)]
        finally:
            for name in users:
                _remove_user(name)
            shutil.rmtree(base, ignore_errors=True)
        if survivors and sys.exc_info()[0] is None:  # never hide the test's own failure behind this one
            raise RuntimeError("processes of the class survived the hub's stop (killed now):\n"
                               + "\n".join(survivors))


def _stop(hub, proxy_pid_file, timeout=60):
    """Stop the hub (it stops the proxy and the users' servers), then anything left; return survivors.

    A survivor is a process that was still running after the hub's own shutdown and had to
    be killed: the hub, the proxy, a user's server, a kernel, or any process of the class's users.
    """
    uids = {u.uid for u in hub.users.values()}
    proxy = []
    with contextlib.suppress(OSError, ValueError):
        proxy = [int(Path(proxy_pid_file).read_text().strip())]
    tracked = dict(hub.started)
    tracked.update(_snapshot(_descendants(hub.process.pid) + _processes_of(uids) + proxy))
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)  # the hub's clean shutdown: servers, kernels, proxy
        try:
            hub.process.wait(timeout)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (any(_alive(p, s) for p, s in tracked.items())
                                           or _processes_of(uids)):
        time.sleep(0.25)
    survivors = []
    for pid, start in tracked.items():
        if _alive(pid, start):
            survivors.append(f"{pid} {_cmdline(pid)[:120]!r}")
            _kill(pid, start, signal.SIGKILL)
    for pid, start in _snapshot(_processes_of(uids)):
        survivors.append(f"{pid} {_cmdline(pid)[:120]!r}")
        _kill(pid, start, signal.SIGKILL)
    return survivors
