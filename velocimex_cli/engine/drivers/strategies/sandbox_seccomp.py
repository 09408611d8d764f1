"""The worker's seccomp filter: a small classic-BPF program (x86_64, aarch64) that refuses new
sockets, exec, new processes (threads are allowed), mounts, namespaces, ptrace, keyrings, BPF,
io_uring, module loading, raising a resource limit and catching SIGXCPU, and kills the process
on any other architecture's system call (see sandbox.py)."""

from __future__ import annotations

import ctypes

from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import (
    AUDIT_ARCH,
    DENIED,
    SYSCALLS,
    UNIMPLEMENTED,
    X32_SYSCALL_BIT,
    check,
)

CLONE_THREAD = 0x00010000
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
EPERM = 1
ENOSYS = 38
SIGXCPU = 24  # the same number on x86_64 and aarch64

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
NR_OFFSET = 0
ARCH_OFFSET = 4


def _arg(index: int, high: bool = False) -> int:
    """Offset of one half of a system call's argument in struct seccomp_data (little endian)."""
    return 16 + 8 * index + (4 if high else 0)


Instruction = tuple[int, int, int, int]


def seccomp_program(arch: str) -> list[Instruction]:
    """The filter: (code, jump-if-true, jump-if-false, k) instructions."""
    numbers = SYSCALLS[arch]
    deny = (BPF_RET_K, 0, 0, RET_ERRNO | EPERM)
    allow = (BPF_RET_K, 0, 0, RET_ALLOW)
    program: list[Instruction] = [
        (BPF_LD_W_ABS, 0, 0, ARCH_OFFSET),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH[arch]),
        (BPF_RET_K, 0, 0, RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, NR_OFFSET),
    ]
    if arch == "x86_64":
        program += [(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT), (BPF_RET_K, 0, 0, RET_KILL_PROCESS)]

    def block(name: str, body: list[Instruction]) -> None:
        # Each block returns on every path, so the next one starts with the number loaded.
        program.append((BPF_JEQ_K, 0, len(body), numbers[name]))
        program.extend(body)

    for name in DENIED:
        if name in numbers:
            block(name, [deny])
    for name in UNIMPLEMENTED:  # glibc falls back to clone for threads on ENOSYS from clone3
        block(name, [(BPF_RET_K, 0, 0, RET_ERRNO | ENOSYS)])
    # clone: a thread (CLONE_THREAD) is allowed, anything else is a new process.
    block("clone", [(BPF_LD_W_ABS, 0, 0, _arg(0)), (BPF_JSET_K, 0, 1, CLONE_THREAD), allow, deny])
    # prlimit64: reading a limit (new_limit NULL) is allowed, setting one is not.
    block(
        "prlimit64",
        [
            (BPF_LD_W_ABS, 0, 0, _arg(2)),
            (BPF_JEQ_K, 0, 3, 0),
            (BPF_LD_W_ABS, 0, 0, _arg(2, high=True)),
            (BPF_JEQ_K, 0, 1, 0),
            allow,
            deny,
        ],
    )
    # rt_sigaction: SIGXCPU (the CPU time limit's signal) keeps its default action (the end).
    block(
        "rt_sigaction",
        [
            (BPF_LD_W_ABS, 0, 0, _arg(0)),
            (BPF_JEQ_K, 0, 5, SIGXCPU),
            (BPF_LD_W_ABS, 0, 0, _arg(1)),
            (BPF_JEQ_K, 0, 2, 0),
            (BPF_LD_W_ABS, 0, 0, _arg(1, high=True)),
            (BPF_JEQ_K, 1, 0, 0),
            deny,
            allow,
        ],
    )
    program.append(allow)
    return program


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_uint16),
        ("filter", ctypes.POINTER(_SockFilter)),
    ]


def install_seccomp(libc: ctypes.CDLL, arch: str) -> None:
    program = seccomp_program(arch)
    filters = (_SockFilter * len(program))(*(_SockFilter(*op) for op in program))
    prog = _SockFprog(len(program), filters)
    check(
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "installing the seccomp filter",
    )
