"""The worker's file system: a tmpfs root holding read-only bind mounts of what the interpreter
needs (the Python prefix, the venv, the velocimex_cli package, the shared libraries, a few
devices), entered with pivot_root, the old root detached (see sandbox.py)."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import (
    SYSCALLS,
    ConfinementError,
    architecture,
    check,
)

PACKAGE_DIR = str(Path(__file__).resolve().parents[3])  # .../velocimex_cli
PACKAGE_ROOT = str(Path(PACKAGE_DIR).parent)

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

# What stays readable: shared libraries and the time zone data, besides the interpreter's own
# directories (found at run time, see readable_paths).
SYSTEM_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32",
               "/usr/share/zoneinfo")  # fmt: skip
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
NEW_ROOT_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/run", "/var", "/tmp")


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
        check(
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
    check(libc.syscall(pivot_root, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "")
