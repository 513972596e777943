"""Forbid new processes in a grading kernel: a seccomp filter that allows threads and nothing else.

A kernel needs threads (ipykernel's heartbeat and I/O threads) but never a child process, so
the process limit of a grading kernel is *no* child process: ``fork``, ``vfork`` and a
``clone`` without ``CLONE_THREAD`` fail with EPERM, and ``clone3`` (whose flags a filter cannot
read) fails with ENOSYS, which makes the C library fall back to ``clone`` for threads. System
calls of a foreign ABI (32-bit calls from a 64-bit process) fail with EPERM. The filter is
installed by the kernel launcher before any learner code runs, applies to every thread, and
can never be removed; a fork bomb becomes an ``OSError``.

Unlike ``RLIMIT_NPROC``, this holds for a kernel started by root as well (the kernel ignores
the process rlimit for uid 0, even inside a user namespace).
"""

from __future__ import annotations

import ctypes
import platform
import struct

#: Per machine: (AUDIT_ARCH value, {syscall: number}) for the calls the filter inspects.
ARCHES = {
    "x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}),
}
CLONE_THREAD = 0x00010000
#: x32 system calls from an x86-64 process carry this bit; refused like a foreign ABI.
X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
_LD_W_ABS, _JEQ_K, _JSET_K, _JGE_K, _RET_K = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38
# Offsets in struct seccomp_data: nr, arch, then args[0] (its low 32 bits on little endian).
_NR, _ARCH, _ARG0_LOW = 0, 4, 16


def _op(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes:
    """The compiled filter (a ``struct sock_filter`` array) for ``machine`` (default: this one).

    Raises
    ------
    OSError
        For a machine the filter does not know.
    """
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise OSError(f"no process filter for machine {machine!r}")
    arch, numbers = ARCHES[machine]
    deny = _op(_RET_K, _ERRNO | _EPERM)
    program = [_op(_LD_W_ABS, _ARCH), _op(_JEQ_K, arch, 1, 0), deny, _op(_LD_W_ABS, _NR)]
    if machine == "x86_64":
        program += [_op(_JGE_K, X32_SYSCALL_BIT, 0, 1), deny]
    for name in ("fork", "vfork"):
        if name in numbers:
            program += [_op(_JEQ_K, numbers[name], 0, 1), deny]
    program += [_op(_JEQ_K, numbers["clone3"], 0, 1), _op(_RET_K, _ERRNO | _ENOSYS),
                _op(_JEQ_K, numbers["clone"], 0, 3),
                _op(_LD_W_ABS, _ARG0_LOW), _op(_JSET_K, CLONE_THREAD, 1, 0), deny,
                _op(_RET_K, _ALLOW)]
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


def forbid_new_processes() -> None:
    """Install the filter on this process and all its threads (irrevocably).

    Raises
    ------
    OSError
        When the machine or the kernel does not support it; the caller decides whether
        grading may go on without it.
    """
    machine = platform.machine()
    program = filter_program(machine)
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program)
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.syscall(_SYS_SECCOMP[machine], _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC,
                    ctypes.byref(fprog)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER) failed")
