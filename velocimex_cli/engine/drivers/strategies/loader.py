"""Load a user strategy: a Python file that defines one subclass of `Strategy`.

`load_strategy_source`/`load_strategy_file` compile and run the file as a fresh module and
return its strategy class, checked (id, name, parameter declarations, hook signatures). Every
problem is INVALID_PARAMETER on `file` with a message that says what and where: a syntax error
with its line and column, an exception while the module runs with the file's line, no
strategy class or several, a clash with a built-in id, a bad declaration.

Loading runs the file's top-level code. `check_strategy_file` does it in a child process
with a time limit, so a file that loops forever or exits at import cannot hang or kill the
engine that is adding it: run it as `python -m velocimex_cli.engine.drivers.strategies.loader
FILE`, which prints the strategy's description (or its error) as one JSON object.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import traceback
import types
from collections.abc import Collection
from pathlib import Path
from typing import Any

from velocimex_cli.engine.drivers.strategies.base import (
    Strategy,
    StrategyDefinitionError,
    check_strategy_class,
)
from velocimex_cli.wire.errors import InvalidParameter

MAX_SOURCE_BYTES = 1_000_000
CHECK_TIMEOUT_SECONDS = 10.0
MODULE_PREFIX = "vmx_user_strategy_"


def _builtin_ids() -> frozenset[str]:
    from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

    return frozenset(BUILTIN_STRATEGIES)


def _fail(filename: str, message: str, **details: Any) -> InvalidParameter:
    return InvalidParameter("file", filename, f"{filename}: {message}", **details)


def load_strategy_source(
    source: str | bytes,
    filename: str = "<strategy>",
    *,
    reserved_ids: Collection[str] | None = None,
) -> type[Strategy]:
    """The one Strategy subclass `source` defines, checked; INVALID_PARAMETER otherwise.

    `reserved_ids` (default: the built-ins' ids) may not be taken by the user's class.
    """
    if isinstance(source, bytes):
        if len(source) > MAX_SOURCE_BYTES:
            raise _fail(filename, f"the file is larger than {MAX_SOURCE_BYTES} bytes")
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(filename, f"the file is not UTF-8 text (byte {exc.start})") from None
    if len(source) > MAX_SOURCE_BYTES:
        raise _fail(filename, f"the file is larger than {MAX_SOURCE_BYTES} bytes")
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line, column = exc.lineno or 0, exc.offset or 0
        raise _fail(
            filename,
            f"syntax error at line {line}, column {column}: {exc.msg}",
            line=line,
            column=column,
            text=(exc.text or "").rstrip("\n"),
        ) from None
    except ValueError as exc:  # null bytes
        raise _fail(filename, f"cannot be compiled: {exc}") from None
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"{MODULE_PREFIX}{digest}"
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # dataclasses and pickling look classes up by module
    try:
        exec(code, module.__dict__)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        at = _line_in(filename, exc)
        where = f"line {at}: " if at else ""
        raise _fail(
            filename,
            f"{where}{type(exc).__name__} while loading: {exc}",
            line=at,
        ) from None
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Strategy)
        and value is not Strategy
        and value.__module__ == name
    ]
    if not found:
        sys.modules.pop(name, None)
        raise _fail(
            filename,
            "defines no strategy: it needs a class that subclasses Strategy "
            "(from velocimex_cli.strategy import Strategy)",
        )
    if len(found) > 1:
        sys.modules.pop(name, None)
        names = ", ".join(cls.__name__ for cls in found)
        raise _fail(filename, f"defines {len(found)} strategies ({names}): keep one per file")
    cls = found[0]
    try:
        check_strategy_class(cls)
    except StrategyDefinitionError as exc:
        sys.modules.pop(name, None)
        raise _fail(filename, str(exc)) from None
    reserved = _builtin_ids() if reserved_ids is None else frozenset(reserved_ids)
    if cls.id in reserved:
        sys.modules.pop(name, None)
        raise _fail(
            filename,
            f"strategy id {cls.id!r} is taken by a built-in strategy; choose another id",
            strategy_id=cls.id,
        )
    return cls


def load_strategy_file(
    path: Path | str, *, reserved_ids: Collection[str] | None = None
) -> type[Strategy]:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise _fail(str(path), f"the file is larger than {MAX_SOURCE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(str(path), f"cannot be read: {exc.strerror or exc}") from None
    return load_strategy_source(data, str(path), reserved_ids=reserved_ids)


def _line_in(filename: str, exc: BaseException) -> int | None:
    """The last line of `filename` in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def check_strategy_file(
    path: Path | str,
    *,
    timeout: float = CHECK_TIMEOUT_SECONDS,
    reserved_ids: Collection[str] | None = None,
) -> dict[str, Any]:
    """Load `path` in a child Python with a time limit; its description (`Strategy.describe`)
    or INVALID_PARAMETER. Use this where the file is not trusted to return (adding it)."""
    from velocimex_cli.wire import jsonfmt

    command = [sys.executable, "-m", __name__, str(path)]
    if reserved_ids is not None:
        command += ["--reserved", ",".join(sorted(reserved_ids))]
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise _fail(
            str(path), f"loading it took longer than {timeout:g}s (a loop at the top level?)"
        ) from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = jsonfmt.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise _fail(
            str(path),
            f"loading it ended the process (exit status {done.returncode}) without an answer",
        )
    if "error" in result:
        error = result["error"]
        details = {k: v for k, v in error["details"].items() if k not in ("parameter", "value")}
        raise InvalidParameter("file", str(path), error["message"], **details)
    return result


def _main(argv: list[str]) -> int:
    from velocimex_cli.wire import jsonfmt

    path = argv[0]
    reserved = None
    if len(argv) >= 3 and argv[1] == "--reserved":
        reserved = [r for r in argv[2].split(",") if r]
    # The file's own prints must not be taken for the answer: the answer is the last line.
    try:
        cls = load_strategy_file(path, reserved_ids=reserved)
    except InvalidParameter as exc:
        print("\n" + jsonfmt.dumps(exc.to_body()), flush=True)
        return 1
    print("\n" + jsonfmt.dumps(cls.describe()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = [
    "check_strategy_file",
    "load_strategy_file",
    "load_strategy_source",
]
