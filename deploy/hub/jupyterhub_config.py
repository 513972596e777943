"""JupyterHub for one class on one machine: students and instructors are the machine's users.

Run as root (LocalProcessSpawner starts each user's server as that unix user)::

    jupyterhub -f /path/to/deploy/hub/jupyterhub_config.py

Everything that differs between machines is read from the environment, with the
defaults of deploy/hub/README.md, in the SETTINGS block below — the one place to
change. The test (tests/browser/test_hub_class.py) runs this very file with its own
values.

Who gets what:

- a **student** gets a JupyterLab from ``ATTENTION_STUDENT_ENV``, the students' environment
  (the student wheel ``attention-course``, JupyterLab and nbgrader; no reference, no grader),
  with nbgrader's Assignment List and Validate only (per-role Jupyter config folder
  ``<ATTENTION_JUPYTER_ETC>/attention/student``);
- an **instructor** gets a JupyterLab from ``ATTENTION_INSTRUCTOR_ENV`` (both wheels: the
  student package and the instructor's ``attention_ref`` and ``grader``) with the formgrader
  and Create Assignment as well (``.../attention/instructor``), pointed at the course
  checkout ``~/attention-course``.

The roles only choose what the Lab shows. What a student can read is decided by file
permissions (homes 0700, the instructors' environment 0750 to their group, the exchange's
own permissions) and by what the students' environment holds, never by a hidden button.
"""

import os
import pwd

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file


def _names(value):
    return [name.strip() for name in value.split(",") if name.strip()]


# ---- SETTINGS -----------------------------------------------------------------------------------
#: Python environment (a venv prefix) of the students' servers and kernels: jupyterhub (the hub's
#: version), jupyterlab, nbgrader and the student wheel, readable by every student, and nothing of
#: the instructor's (`make hub-env` builds it).
STUDENT_ENV = os.environ.get("ATTENTION_STUDENT_ENV", "/opt/attention-course/student")
#: Python environment of the instructors' servers: the same plus the instructor's wheel (attention_ref,
#: grader). Readable by the instructors only (`make hub-env`: mode 0750, group attention-instructors).
INSTRUCTOR_ENV = os.environ.get("ATTENTION_INSTRUCTOR_ENV", "/opt/attention-course/instructor")
#: The unix users of the class (comma-separated); anyone else cannot log in.
INSTRUCTORS = _names(os.environ.get("ATTENTION_HUB_INSTRUCTORS", "instructor"))
STUDENTS = _names(os.environ.get("ATTENTION_HUB_STUDENTS", "student1,student2"))
#: Folder holding the machine's nbgrader_config.py (exchange root, course id) and the per-role
#: Jupyter config folders attention/student and attention/instructor.
JUPYTER_ETC = os.environ.get("ATTENTION_JUPYTER_ETC", "/etc/jupyter")
#: The hub's own files: its database, cookie secret, the proxy's pid file. Root only (0700).
STATE = os.environ.get("ATTENTION_HUB_STATE", "/srv/jupyterhub")
#: Loopback only: the public port (what browsers open), the hub's API port and the proxy's API port.
#: Put a TLS-terminating web server in front of the public port to open the hub to a network.
IP = "127.0.0.1"
PORT = int(os.environ.get("ATTENTION_HUB_PORT", "8000"))
HUB_PORT = int(os.environ.get("ATTENTION_HUB_API_PORT", "8081"))
PROXY_API_PORT = int(os.environ.get("ATTENTION_HUB_PROXY_API_PORT", "8001"))
#: The configurable-http-proxy executable (npm package), by path or on PATH.
PROXY = os.environ.get("ATTENTION_HUB_PROXY", "configurable-http-proxy")
#: Tests only: one shared password for every user (SharedPasswordAuthenticator). Unset: PAM,
#: i.e. the users' own unix passwords.
TEST_PASSWORD = os.environ.get("ATTENTION_HUB_TEST_PASSWORD")
# -------------------------------------------------------------------------------------------------

c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://{IP}:{HUB_PORT}"
c.ConfigurableHTTPProxy.api_url = f"http://{IP}:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [PROXY]
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{os.path.join(STATE, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server (and its kernels)

# ---- who may log in ------------------------------------------------------------------------------
c.Authenticator.allowed_users = set(STUDENTS) | set(INSTRUCTORS)
c.Authenticator.admin_users = set()  # a hub admin could open every student's server: nobody is one
if TEST_PASSWORD:
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = TEST_PASSWORD
else:
    # The users' unix passwords. For a real class, an OAuthenticator (GitHub, your university's
    # OpenID Connect / CAS ...) is the usual choice; keep allowed_users or use its allow lists.
    c.JupyterHub.authenticator_class = "pam"

# ---- each user's server ---------------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.env_keep = ["LANG", "LC_ALL"]  # nothing else of the hub's own environment (root's PATH, PYTHONPATH)


def role_of(name):
    """``"instructor"`` or ``"student"``: the per-role Jupyter config folder a user's server reads."""
    return "instructor" if name in INSTRUCTORS else "student"


def server_environment(name, home):
    """The environment of a user's server and of everything it starts (kernels, terminals).

    ``JUPYTER_CONFIG_PATH`` puts the role's config folder in front of the environment's own
    (sys-prefix) config, so the role decides which nbgrader tools are on, whatever the
    environment enables; ``/etc/jupyter``-style ``JUPYTER_ETC`` brings the exchange settings.
    """
    role = role_of(name)
    prefix = INSTRUCTOR_ENV if role == "instructor" else STUDENT_ENV
    env = {
        "PATH": os.pathsep.join([os.path.join(prefix, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "VIRTUAL_ENV": prefix,
        "JUPYTER_CONFIG_PATH": os.pathsep.join([os.path.join(JUPYTER_ETC, "attention", role), JUPYTER_ETC]),
        "OPENBLAS_NUM_THREADS": "1",  # one kernel must not take every core of a shared machine
    }
    if role == "instructor":
        # The grader's sandbox cache, in the instructor's home rather than in /tmp, where any
        # user could have created it first.
        env["ATTENTION_GRADER_CACHE"] = os.path.join(home, ".cache", "attention-grader")
    return env


def pre_spawn_hook(spawner):
    """Start the user's server from their role's environment with their role's configuration."""
    name = spawner.user.name
    home = pwd.getpwnam(name).pw_dir
    prefix = INSTRUCTOR_ENV if role_of(name) == "instructor" else STUDENT_ENV
    spawner.cmd = [os.path.join(prefix, "bin", "jupyterhub-singleuser")]
    spawner.environment = {**spawner.environment, **server_environment(name, home)}


c.Spawner.pre_spawn_hook = pre_spawn_hook
