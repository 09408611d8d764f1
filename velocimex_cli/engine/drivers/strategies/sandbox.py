"""Confinement of a strategy's worker process (Linux): what user code may reach.

`confine` runs at the very start of a worker (isolation.main), before it reads any strategy
source, and leaves it with:
- its own user, mount, network, PID, IPC and UTS namespaces (unshare). The network namespace
  has no interface up: the socket pair the engine handed over is the only channel out.
- a root of its own: a tmpfs holding read-only bind mounts of what the interpreter needs (the
  Python prefix, the venv, the velocimex_cli package, the shared libraries, /dev/null and the
  random devices), entered with pivot_root; the old root is detached. No /proc, no data
  directory, no VMX_HOME, no home directory, nothing writable.
- PID 1 of its PID namespace: the process the engine started stays outside as a supervisor
  that only waits for it and passes its end on; when either ends, everything the strategy
  started ends (PR_SET_PDEATHSIG, and the kernel kills a PID namespace with its init).
- hard resource limits (address space, CPU time of all its threads, threads, open files, file
  size, core dumps) that it cannot raise: it holds no capability outside its namespace, and
  setrlimit / prlimit64 with a new limit are refused.
- PR_SET_NO_NEW_PRIVS, then a Landlock domain where the kernel has Landlock (read-only file
  access, no TCP bind or connect, no abstract unix sockets or signals beyond itself), then a
  seccomp filter: no new sockets, no exec, no new processes (threads are allowed), no mounts,
  namespaces, ptrace, keyrings, BPF, io_uring, module loading; any other architecture's system
  calls kill the process.

Written with ctypes and a small classic-BPF program rather than a library: the seccomp and
Landlock bindings on PyPI either need libseccomp's shared library installed (python3-seccomp
is a distribution package, not a wheel) or cover only part of this; the program below is a
few dozen instructions for the two architectures served (x86_64, aarch64).

`confinement_available()` runs the whole sequence once in a throwaway process and caches the
answer: the engine refuses or warns (see deployments.py) where it fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path

# An engine whose environment holds this variable (any non-empty value) treats confinement as
# unavailable: tests use it to exercise the fallback. Read when the engine builds its node.
FORCE_UNCONFINED_ENV = "VMX_TEST_UNCONFINED"
CONFINE_FAILED_EXIT = 121  # the worker could not confine itself and ran nothing

PACKAGE_DIR = str(Path(__file__).resolve().parents[3])  # .../velocimex_cli
PACKAGE_ROOT = str(Path(PACKAGE_DIR).parent)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

EPERM = 1
ENOSYS = 38
SIGXCPU = 24  # the same number on x86_64 and aarch64

# What stays readable: shared libraries and the time zone data, besides the interpreter's own
# directories (found at run time, see readable_paths).
SYSTEM_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32",
               "/usr/share/zoneinfo")  # fmt: skip
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
NEW_ROOT_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/run", "/var", "/tmp")

THREADS = 64  # RLIMIT_NPROC: threads of the worker (it may not start processes at all)
OPEN_FILES = 64


class ConfinementError(Exception):
    """A step of the confinement failed: the worker must not run strategy code."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise ConfinementError(f"{what}: {os.strerror(errno)}")
    return result


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

# Landlock (ABI numbers: 1 files, 2 refer, 3 truncate, 4 TCP, 5 ioctl on devices, 6 scopes).
LANDLOCK_CREATE_RULESET = 444
LANDLOCK_ADD_RULE = 445
LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ABI1 = (1 << 13) - 1
FS_REFER = 1 << 13
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


def architecture() -> str | None:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "aarch64"
    return None


# -- seccomp ---------------------------------------------------------------------------------
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
    _check(
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "installing the seccomp filter",
    )


# -- Landlock --------------------------------------------------------------------------------
def landlock_abi(libc: ctypes.CDLL) -> int:
    """The kernel's Landlock ABI version, 0 without Landlock."""
    version = libc.syscall(
        LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(0, version)


def apply_landlock(libc: ctypes.CDLL, writable_files: tuple[str, ...]) -> int:
    """Restrict this process (after pivot_root) to reading its tree, writing only
    `writable_files` (devices), no TCP, no signals or abstract sockets beyond its domain.
    Returns the ABI used (0: no Landlock here, nothing done)."""
    abi = landlock_abi(libc)
    if abi < 1:
        return 0
    handled_fs = FS_ABI1
    if abi >= 2:
        handled_fs |= FS_REFER
    if abi >= 3:
        handled_fs |= FS_TRUNCATE
    if abi >= 5:
        handled_fs |= FS_IOCTL_DEV
    fields = [handled_fs]
    if abi >= 4:
        fields.append(NET_BIND_TCP | NET_CONNECT_TCP)
    if abi >= 6:
        fields.append(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    attr = struct.pack(f"={len(fields)}Q", *fields)
    ruleset = _check(
        libc.syscall(LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), 0),
        "creating the Landlock ruleset",
    )
    try:
        rules = [("/", FS_READ_FILE | FS_READ_DIR, os.O_DIRECTORY)]
        rules += [(path, FS_READ_FILE | FS_WRITE_FILE, 0) for path in writable_files]
        for path, access, flags in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC | flags)
            try:
                rule = struct.pack("=Qi", access, fd)
                _check(
                    libc.syscall(LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0),
                    f"adding the Landlock rule for {path}",
                )
            finally:
                os.close(fd)
        _check(libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0), "entering the Landlock domain")
    finally:
        os.close(ruleset)
    return abi


# -- the file system -------------------------------------------------------------------------
def readable_paths() -> list[str]:
    """The directories the worker's interpreter reads from, resolved, outermost only."""
    wanted = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, PACKAGE_DIR}
    cwd = os.getcwd()
    for entry in sys.path:
        # `python -m` puts the working directory first; the package root holds more than the
        # package (tests, the repository): only the package itself is shown.
        if entry and entry not in (cwd, PACKAGE_ROOT) and os.path.isdir(entry):
            wanted.add(entry)
    wanted.update(path for path in SYSTEM_DIRS if os.path.isdir(path))
    real = sorted({os.path.realpath(path) for path in wanted})
    outermost: list[str] = []
    for path in real:
        if path == "/":
            raise ConfinementError("the interpreter lives in / itself: nothing to confine it to")
        if not any(path.startswith(top.rstrip("/") + "/") for top in outermost):
            outermost.append(path)
    return outermost


def _symlinks_on_the_way(paths: list[str]) -> list[tuple[str, str]]:
    """(where, target) of each symbolic link met on the way to `paths` (e.g. /lib64 ->
    usr/lib64), to recreate in the new root so the unresolved names keep working."""
    links: dict[str, str] = {}
    for path in paths:
        parts = Path(path).parts[1:]
        for depth in range(1, len(parts) + 1):
            here = "/" + "/".join(parts[:depth])
            if os.path.islink(here):
                where = os.path.join(os.path.realpath(os.path.dirname(here)), parts[depth - 1])
                links.setdefault(where, os.readlink(here))
    return sorted(links.items())


def _flags_of(path: str) -> int:
    """The mount flags a read-only remount of `path` must keep (a user namespace may not drop
    them), plus read-only and nosuid."""
    found = os.statvfs(path).f_flag
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
    for st, ms in ((os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):  # fmt: skip
        if found & st:
            flags |= ms
    return flags


def _new_root_mount_point(sources: list[str]) -> str:
    for candidate in NEW_ROOT_CANDIDATES:
        if os.path.isdir(candidate) and not os.path.islink(candidate):
            inside = candidate.rstrip("/") + "/"
            if not any(source == candidate or source.startswith(inside) for source in sources):
                return candidate
    raise ConfinementError("no directory to build the worker's root on")


def build_root(libc: ctypes.CDLL) -> None:
    """A tmpfs root of read-only bind mounts, entered with pivot_root; the old root detached."""
    directories = readable_paths()
    files = [path for path in (*SYSTEM_FILES, *DEVICES) if os.path.exists(path)]
    links = _symlinks_on_the_way([*directories, *SYSTEM_DIRS, *SYSTEM_FILES])
    file_sources = [os.path.realpath(path) for path in files]

    def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> None:
        _check(
            libc.mount(
                source.encode() if source else None,
                target.encode(),
                fstype.encode() if fstype else None,
                ctypes.c_ulong(flags),
                data.encode() if data else None,
            ),
            f"mount {source or fstype} on {target}",
        )

    mount(None, "/", None, MS_REC | MS_PRIVATE, "")
    root = _new_root_mount_point(directories + file_sources)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for source in directories:
        target = root + source
        os.makedirs(target, exist_ok=True)
        mount(source, target, None, MS_BIND | MS_REC, "")
        mount(None, target, None, _flags_of(source), "")
    for name, source in zip(files, file_sources, strict=True):
        target = root + name
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w"):
            pass
        mount(source, target, None, MS_BIND, "")
        mount(None, target, None, _flags_of(source) & ~MS_NODEV, "")
    for where, target in links:
        place = root + where
        if not os.path.lexists(place):
            os.makedirs(os.path.dirname(place), exist_ok=True)
            os.symlink(target, place)
    os.chdir(root)
    pivot_root = SYSCALLS[architecture() or ""]["pivot_root"]
    _check(libc.syscall(pivot_root, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "")


# -- limits and the process tree ---------------------------------------------------------------
def hard_limits(memory_bytes: int, cpu_seconds: int, *, confined: bool = True) -> None:
    """Limits this process cannot raise again (hard = soft, except CPU: SIGXCPU at the soft
    limit, SIGKILL a second later should it survive that). Unconfined, only those that count
    this process alone (RLIMIT_NPROC would count every process of the engine's user)."""
    import resource

    def cap(which: int, soft: int, hard: int) -> None:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    cap(resource.RLIMIT_AS, memory_bytes, memory_bytes)
    cap(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    cap(resource.RLIMIT_CORE, 0, 0)
    if not confined:
        return
    cap(resource.RLIMIT_NPROC, THREADS, THREADS)
    cap(resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES)
    cap(resource.RLIMIT_FSIZE, 0, 0)
    cap(resource.RLIMIT_MEMLOCK, 0, 0)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        cap(resource.RLIMIT_MSGQUEUE, 0, 0)


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as file:
            file.write(text)
    except OSError as exc:
        raise ConfinementError(f"writing {path}: {exc.strerror}") from None


def _supervise(child: int, keep_fd: int, cpu_seconds: int) -> None:
    """The process the engine started, once the confined worker is forked: it holds nothing of
    the channel, waits, and ends as the worker ended (so the engine reads the same status).
    The worker, its namespace's init, ignores SIGXCPU (the kernel spares an init the signals it
    has no handler for) and is killed at the hard CPU limit: a SIGKILL after using up its CPU
    time is passed on as SIGXCPU, so the engine can say why."""
    with contextlib.suppress(OSError):
        os.close(keep_fd)
    for ignored in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)
    while True:
        try:
            _, status, usage = os.wait4(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and usage.ru_utime + usage.ru_stime >= cpu_seconds:
            sig = signal.SIGXCPU
        with contextlib.suppress(Exception):
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(Exception):
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _hung_up(fd: int) -> bool:
    """Whether every write end of the pipe `fd` reads from is closed (without waiting)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def confine(
    channel_fd: int, memory_bytes: int, cpu_seconds: int, parent: int | None = None
) -> None:
    """Confine this (fresh, single-threaded) worker; returns in the confined process, which is
    PID 1 of a new PID namespace and a child of this one (which never returns). Raises
    ConfinementError before the fork, or exits CONFINE_FAILED_EXIT after it, when any step
    fails: nothing runs unconfined once confinement was asked for."""
    arch = architecture()
    if not sys.platform.startswith("linux") or arch is None:
        raise ConfinementError(f"confinement needs Linux on x86_64 or aarch64, not "
                               f"{sys.platform} on {platform.machine()}")  # fmt: skip
    libc = _libc()
    uid, gid = os.geteuid(), os.getegid()
    _check(
        libc.unshare(
            CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        ),
        "creating the namespaces",
    )
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    # Entering a user namespace may clear the parent-death signal: set it again, and end if
    # the engine (`parent`) is gone already.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    if parent is not None and os.getppid() != parent:
        os._exit(0)
    # The supervisor's lifeline: only it holds the write end, so the worker reads a hang-up
    # once the supervisor is gone, however it ended.
    lifeline, held = os.pipe()
    child = os.fork()
    if child:
        os.close(lifeline)
        _supervise(child, channel_fd, cpu_seconds)
    try:
        # PID 1 of the new namespace: dies with the supervisor, which dies with the engine.
        # The signal is armed only now: had the supervisor died since the fork, it would never
        # come (and getppid() is 0 in a new PID namespace), so the lifeline says whether it
        # still lives. From here on its death kills this process.
        os.close(held)
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
        if _hung_up(lifeline):
            os._exit(0)
        os.close(lifeline)
        build_root(libc)
        os.closerange(3, channel_fd)
        os.closerange(channel_fd + 1, 1 << 16)
        hard_limits(memory_bytes, cpu_seconds)
        _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
        apply_landlock(libc, tuple(path for path in DEVICES if os.path.exists(path)))
        install_seccomp(libc, arch)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"confinement failed: {exc}\n")
            sys.stderr.flush()
        os._exit(CONFINE_FAILED_EXIT)
    sys.path[:] = [entry for entry in sys.path if entry and os.path.isdir(entry)]


# -- the probe -------------------------------------------------------------------------------
@functools.cache
def confinement_problem() -> str | None:
    """Why workers cannot be confined here, or None when they can: the whole sequence is run
    once in a throwaway process (which then checks a few of its walls). Cached."""
    if not sys.platform.startswith("linux"):
        return f"confinement needs Linux namespaces, seccomp and rlimits; this is {sys.platform}"
    if architecture() is None:
        return f"confinement is written for x86_64 and aarch64, not {platform.machine()}"
    try:
        probe = subprocess.run(
            [sys.executable, "-m", __name__, "--probe"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            env=worker_environment(),
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the confinement probe did not run: {exc}"
    if probe.returncode == 0 and probe.stdout.strip() == "confined":
        return None
    said = (probe.stdout + probe.stderr).strip().splitlines()
    reason = said[-1] if said else f"exit code {probe.returncode}"
    return f"the kernel refused the confinement ({reason})"


def confinement_available() -> bool:
    """Whether strategy workers can be confined on this machine (probed once, cached)."""
    return confinement_problem() is None


def worker_environment() -> dict[str, str]:
    """A worker's whole environment: what Python needs to find the package, the locale; none of
    the engine's (no VMX_*, no credentials, no PATH, no HOME)."""
    env = {
        "PYTHONPATH": PACKAGE_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
    }
    for name in ("LANG", "LC_ALL", "LC_CTYPE", "TZ"):
        value = os.environ.get(name)
        if value:
            env[name] = value
    return env


def _probe() -> int:
    """Confine this process as a worker would be, then check that the walls hold."""
    import socket as socket_module

    _left, right = socket_module.socketpair()
    try:
        confine(right.fileno(), 256 * 2**20, 5)
    except ConfinementError as exc:
        print(exc)
        return 1
    for wall, attempt in (
        ("a new socket", lambda: socket_module.socket()),
        ("a new process", lambda: os.fork() or os._exit(0)),
        ("the data directories", lambda: os.listdir("/proc")),
    ):
        try:
            attempt()
        except OSError:
            continue
        print(f"{wall} was not refused")
        return 1
    print("confined")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        sys.stdout.flush()
        code = _probe()
        sys.stdout.flush()
        os._exit(code)
