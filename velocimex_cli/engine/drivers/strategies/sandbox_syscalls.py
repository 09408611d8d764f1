"""What every step of a worker's confinement shares (sandbox.py tells the whole story): the
C library, a checked call that turns -1 into ConfinementError, the architecture served and its
system call numbers (the seccomp filter denies by them; the new root needs pivot_root's)."""

from __future__ import annotations

import ctypes
import os
import platform


class ConfinementError(Exception):
    """A step of the confinement failed: the worker must not run strategy code."""


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise ConfinementError(f"{what}: {os.strerror(errno)}")
    return result


def architecture() -> str | None:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "aarch64"
    return None


# -- system call numbers -----------------------------------------------------------------------
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Denied with EPERM outright, by name; each architecture's numbers below.
DENIED = ("socket", "socketpair", "execve", "execveat", "fork", "vfork", "setrlimit",
          "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace",
          "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load", "bpf",
          "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "open_tree",
          "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
          "init_module", "finit_module", "delete_module", "acct", "swapon", "swapoff",
          "reboot", "sethostname", "setdomainname", "quotactl", "name_to_handle_at",
          "open_by_handle_at", "syslog", "personality", "iopl", "ioperm", "modify_ldt",
          "uselib", "setsid", "setpgid")  # fmt: skip
UNIMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")

SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41, "socketpair": 53, "execve": 59, "execveat": 322, "fork": 57, "vfork": 58,
        "clone": 56, "clone3": 435, "setrlimit": 160, "prlimit64": 302, "rt_sigaction": 13,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "kexec_load": 246, "kexec_file_load": 320, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169,
        "sethostname": 170, "setdomainname": 171, "quotactl": 179, "name_to_handle_at": 303,
        "open_by_handle_at": 304, "syslog": 103, "personality": 135, "iopl": 172,
        "ioperm": 173, "modify_ldt": 154, "uselib": 134, "setsid": 112, "setpgid": 109,
    },
    "aarch64": {
        "socket": 198, "socketpair": 199, "execve": 221, "execveat": 281, "clone": 220,
        "clone3": 435, "setrlimit": 164, "prlimit64": 261, "rt_sigaction": 134, "unshare": 97,
        "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kexec_load": 104,
        "kexec_file_load": 294, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "keyctl": 219, "add_key": 217, "request_key": 218, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "acct": 89,
        "swapon": 224, "swapoff": 225, "reboot": 142, "sethostname": 161,
        "setdomainname": 162, "quotactl": 60, "name_to_handle_at": 264,
        "open_by_handle_at": 265, "syslog": 116, "personality": 92, "setsid": 157,
        "setpgid": 154,
    },
}  # fmt: skip
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: another architecture, killed
