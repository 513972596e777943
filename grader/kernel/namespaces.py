"""Linux namespaces, mounts and capabilities for a kernel forked from the template (kernel side).

Thin ``ctypes`` wrappers around the system calls :mod:`grader.kernel.template` needs to give
each forked kernel namespaces of its own inside the template's sandbox: ``unshare``, the
user namespace's id maps, ``mount`` (tmpfs, bind from an ``O_PATH`` descriptor, read-only
remount), and dropping every capability. Each raises :class:`OSError` with the system's
reason; nothing here decides a policy (that is :mod:`grader.kernel.template`'s job).
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
#: Every namespace a forked kernel gets of its own.
ALL_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                  | CLONE_NEWCGROUP)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 0x1, 0x2, 0x4, 0x20, 0x1000, 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 1, 4, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int = ALL_NAMESPACES) -> None:
    """Move this process into new namespaces (a new PID namespace applies to its children)."""
    _check(_libc.unshare(flags), "unshare")


def map_ids(uid: int, gid: int) -> None:
    """In a new user namespace: map ``uid``/``gid`` to themselves (setgroups denied first)."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())  # unbuffered: a refused map raises here, not at close
        finally:
            os.close(fd)


def make_private(path: str = "/") -> None:
    """Stop mount events propagating between this mount namespace and its parent."""
    _check(_libc.mount(b"none", path.encode(), None, MS_REC | MS_PRIVATE, None), f"make {path} private")


def mount_tmpfs(path: str, size: int, *, read_only: bool = False) -> None:
    """A fresh tmpfs of ``size`` bytes on ``path`` (no device files, no set-uid programs)."""
    flags = MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    options = f"size={int(size)},mode=1777".encode()
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, options), f"tmpfs on {path}")


def bind_fd(fd: int, path: str, *, read_only: bool, recursive: bool = False) -> None:
    """Bind the folder open as ``fd`` (``O_PATH``) on ``path``, made first when missing; with
    ``recursive``, the mounts inside it come along (the empty folders over trusted code)."""
    os.makedirs(path, exist_ok=True)
    flags = MS_BIND | (MS_REC if recursive else 0)
    _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, flags, None), f"bind {path}")
    if read_only:
        remount_read_only(path)


def remount_read_only(path: str) -> None:
    """Make the bind mount on ``path`` read-only."""
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(_libc.mount(b"none", path.encode(), None, flags, None), f"read-only {path}")


def set_parent_death_signal(signum: int) -> None:
    """Receive ``signum`` when the parent dies."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def set_dumpable(dumpable: bool) -> None:
    """A non-dumpable process's memory, environment and descriptors cannot be read through /proc."""
    _check(_libc.prctl(PR_SET_DUMPABLE, int(dumpable), 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


def drop_capabilities() -> None:
    """Give up every capability for good: bounding set, ambient set, then effective and permitted.

    A process that created a user namespace holds every capability in it; the kernel must hold
    none, as under ``bwrap --cap-drop ALL``.
    """
    for cap in range(_last_capability() + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"prctl(PR_CAPBSET_DROP, {cap})")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT)")
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def capabilities() -> dict[str, int]:
    """This process's capability sets as /proc reports them (``{"CapEff": 0, ...}``)."""
    found = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("Cap"):
                name, value = line.split(":")
                found[name] = int(value, 16)
    return found
