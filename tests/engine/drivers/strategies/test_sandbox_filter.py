"""The seccomp program of both architectures, run by a small classic-BPF interpreter: the
x86_64 one is also exercised by the kernel in test_strategy_confinement.py; the aarch64 one
only here (its numbers are asm-generic's)."""

from __future__ import annotations

import struct

import pytest

from velocimex_cli.engine.drivers.strategies import sandbox_seccomp as seccomp

KILL, ALLOW = seccomp.RET_KILL_PROCESS, seccomp.RET_ALLOW
EPERM = seccomp.RET_ERRNO | seccomp.EPERM
ENOSYS = seccomp.RET_ERRNO | seccomp.ENOSYS


def run(program: list[seccomp.Instruction], data: bytes) -> int:
    """What the filter answers for one struct seccomp_data."""
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == seccomp.BPF_LD_W_ABS:
            accumulator = struct.unpack_from("<I", data, k)[0]
        elif code == seccomp.BPF_RET_K:
            return k
        else:
            taken = {
                seccomp.BPF_JEQ_K: accumulator == k,
                seccomp.BPF_JGE_K: accumulator >= k,
                seccomp.BPF_JSET_K: bool(accumulator & k),
            }[code]
            pc += jt if taken else jf
        pc += 1
        assert pc < len(program), "the program runs off its end"


def call(arch: str, name: str | int, *args: int, audit_arch: int | None = None) -> bytes:
    number = name if isinstance(name, int) else seccomp.SYSCALLS[arch][name]
    padded = (list(args) + [0] * 6)[:6]
    return struct.pack("<iIQ6Q", number, audit_arch or seccomp.AUDIT_ARCH[arch], 0x1000, *padded)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_filter_of_each_architecture(arch: str) -> None:
    program = seccomp.seccomp_program(arch)
    for denied in ("socket", "socketpair", "execve", "execveat", "setrlimit", "unshare", "mount",
                   "ptrace", "bpf", "pivot_root", "setsid"):  # fmt: skip
        assert run(program, call(arch, denied)) == EPERM, denied
    assert run(program, call(arch, "clone3")) == ENOSYS
    assert run(program, call(arch, "io_uring_setup")) == ENOSYS
    # A thread may be created, a process may not (fork is clone with SIGCHLD).
    thread = 0x3D0F00  # glibc's pthread_create flags, CLONE_THREAD among them
    assert run(program, call(arch, "clone", thread)) == ALLOW
    assert run(program, call(arch, "clone", 0x11)) == EPERM  # SIGCHLD
    assert run(program, call(arch, "clone", 0x4111)) == EPERM  # CLONE_VM | CLONE_VFORK
    # Reading a limit is fine; setting one is not.
    assert run(program, call(arch, "prlimit64", 0, 9, 0, 0x7FFF0000)) == ALLOW
    assert run(program, call(arch, "prlimit64", 0, 9, 0x7FFF0000, 0)) == EPERM
    assert run(program, call(arch, "prlimit64", 0, 9, 0x7F00000000, 0)) == EPERM
    # SIGXCPU keeps its default action; other handlers may be set.
    assert run(program, call(arch, "rt_sigaction", 24, 0x5000, 0)) == EPERM
    assert run(program, call(arch, "rt_sigaction", 24, 0, 0x5000)) == ALLOW
    assert run(program, call(arch, "rt_sigaction", 2, 0x5000, 0)) == ALLOW
    # Ordinary calls go through: read/write/openat/futex/mmap.
    for number in {"x86_64": (0, 1, 257, 202, 9), "aarch64": (63, 64, 56, 98, 222)}[arch]:
        assert run(program, call(arch, number)) == ALLOW
    # Another architecture's system calls end the process.
    other = "aarch64" if arch == "x86_64" else "x86_64"
    foreign = call(arch, 0, audit_arch=seccomp.AUDIT_ARCH[other])
    assert run(program, foreign) == KILL


def test_x32_system_calls_are_killed_on_x86_64() -> None:
    program = seccomp.seccomp_program("x86_64")
    assert run(program, call("x86_64", seccomp.X32_SYSCALL_BIT | 0)) == KILL
    assert run(program, call("x86_64", seccomp.X32_SYSCALL_BIT | 41)) == KILL
