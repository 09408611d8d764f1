"""The engine forgets the secrets its environment gave it (`vmx engine serve`, at start).

An engine never needs an API key or secret from its environment (it checks keys against its
own database), yet a shell that exported VMX_API_KEY/VMX_API_SECRET for the client hands them
to it. `scrub_secret_env` removes every such variable at start:

- from `os.environ` and `posix.environ` (what Python code in the engine reads);
- from the C environment (`unsetenv`), which every process the engine starts inherits;
- on Linux with glibc, the bytes of each value are also overwritten in place where the kernel
  laid out the initial environment, which is the memory /proc/PID/environ shows: a reader of
  that file sees `NAME=` followed by zero bytes, not the secret.

What it cannot promise: copies the interpreter made before the scrub and has since freed (the
old `str` objects) may linger in the process's memory until reused; on another platform (or
if the C library's `environ` cannot be reached) /proc/PID/environ, where it exists, still
shows the initial values. `start` therefore never passes them on in the first place
(`without_secrets`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

SECRET_NAMES = frozenset({"VMX_API_KEY", "VMX_API_SECRET", "VMX_ADMIN_TOKEN"})
# Any other VMX_ variable named like a secret is treated as one.
SECRET_SUFFIXES = ("_SECRET", "_TOKEN", "_PASSWORD", "_PASSPHRASE", "_API_KEY", "_PRIVATE_KEY")


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_NAMES or (upper.startswith("VMX_") and upper.endswith(SECRET_SUFFIXES))


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """`env` less every variable that holds a secret (for a process vmx starts)."""
    return {name: value for name, value in env.items() if not is_secret_name(name)}


def scrub_secret_env() -> list[str]:
    """Remove every secret variable from this process's environment; the names removed."""
    names = sorted(name for name in os.environ if is_secret_name(name))
    if not names:
        return []
    _wipe_initial_values(name.encode() for name in names)
    import posix

    for name in names:
        os.environ.pop(name, None)  # also unsetenv(): the C environment children inherit
        posix.environ.pop(name.encode(), None)  # os.environ's source
    return names


def _wipe_initial_values(names: Iterable[bytes]) -> bool:
    """Overwrite the values of `names` in the C library's environment strings, in place.

    The strings of the initial environment live where the kernel put them at exec, the range
    /proc/PID/environ reads; unsetenv() only unlinks them. Linux only; False when not done."""
    if not sys.platform.startswith("linux"):
        return False
    wanted = set(names)
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
        index = 0
        while environ[index]:
            address = environ[index]
            entry = ctypes.string_at(address)
            name, sep, value = entry.partition(b"=")
            if sep and name in wanted and value:
                ctypes.memset(address + len(name) + 1, 0, len(value))
            index += 1
    except (OSError, ValueError, AttributeError):
        return False
    return True
