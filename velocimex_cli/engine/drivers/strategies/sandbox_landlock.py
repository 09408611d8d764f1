"""The worker's Landlock domain, where the kernel has Landlock: reading its whole (new) root,
writing only the devices it is given, no TCP bind or connect, no abstract unix sockets or
signals beyond itself; each right used only where the kernel's ABI knows it (see sandbox.py)."""

from __future__ import annotations

import ctypes
import os
import struct

from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import check

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
    ruleset = check(
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
                check(
                    libc.syscall(LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0),
                    f"adding the Landlock rule for {path}",
                )
            finally:
                os.close(fd)
        check(libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0), "entering the Landlock domain")
    finally:
        os.close(ruleset)
    return abi
