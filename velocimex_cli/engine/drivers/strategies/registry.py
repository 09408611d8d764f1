"""Which strategies an engine can deploy: the built-ins and the user files added to it.

A user strategy is a Python source file defining one `Strategy` subclass. Adding one never
runs its code in the engine's process: the file is checked in a short-lived worker (syntax,
exactly one Strategy subclass, sound parameter declarations, with the same time and memory
limits as a deployment), and what the worker reports (id, name, parameters) is kept beside the
source, in `<data_dir>/strategies/<id>.py` and `<id>.json`, so listing them runs nothing. An
engine without a data directory keeps them in memory.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path
from typing import Any

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter, NotFound

RESERVED_IDS = frozenset({"deployments"})
MAX_SOURCE_BYTES = 48 * 1024  # the body limit is 64 KiB, and JSON escapes the text


# ---------------------------------------------------------------------- loading (any process)
def builtin_classes() -> dict[str, type[Any]]:
    """The built-in strategies by id."""
    from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

    return dict(BUILTIN_STRATEGIES)


def load_source(source: str, filename: str = "<strategy>") -> type[Any]:
    """The one Strategy subclass `source` defines, checked (the strategies package's loader:
    INVALID_PARAMETER says what is wrong and where). Runs the file: call it in a worker."""
    from velocimex_cli.engine.drivers.strategies.loader import load_strategy_source

    # Tracebacks then show the strategy's own lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return load_strategy_source(source, filename)


def load_class(strategy_id: str, source: str | None) -> type[Any]:
    """A deployment's class: the user source when given, else the built-in by id."""
    if source is not None:
        return load_source(source, f"{strategy_id}.py")
    cls = builtin_classes().get(strategy_id)
    if cls is None:
        raise NotFound(f"Unknown strategy {strategy_id!r}", {"strategy_id": strategy_id})
    return cls


def describe_source(source: str, filename: str) -> dict[str, Any]:
    """What GET /v1/strategies shows of a user file (runs its code: call it in a worker)."""
    return load_source(source, filename).describe()


# ---------------------------------------------------------------------- the engine's registry
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


class StrategyRegistry:
    """Built-ins plus user strategies (files in `<data_dir>/strategies/`, or in memory)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.directory = data_dir / "strategies" if data_dir is not None else None
        self._user: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (source, description)
        self._builtins: dict[str, dict[str, Any]] | None = None
        if self.directory is not None and self.directory.is_dir():
            for meta in sorted(self.directory.glob("*.json")):
                source_path = meta.with_suffix(".py")
                try:
                    described = jsonfmt.loads(meta.read_text(encoding="utf-8"))
                    source = source_path.read_text(encoding="utf-8")
                except (OSError, ValueError):
                    continue
                self._user[described["strategy_id"]] = (source, described)

    def builtins(self) -> dict[str, dict[str, Any]]:
        if self._builtins is None:
            self._builtins = {}
            for strategy_id, cls in sorted(builtin_classes().items()):
                described = cls.describe()
                described["kind"] = "builtin"
                self._builtins[strategy_id] = described
        return self._builtins

    def list(self) -> list[dict[str, Any]]:
        return [*self.builtins().values(), *(d for _, d in self._user.values())]

    def get(self, strategy_id: str) -> dict[str, Any]:
        found = self.builtins().get(strategy_id) or (self._user.get(strategy_id) or (None, None))[1]
        if found is None:
            raise NotFound(
                f"Unknown strategy {strategy_id!r}; list them with GET /v1/strategies",
                {"strategy_id": strategy_id},
            )
        return found

    def source_of(self, strategy_id: str) -> str | None:
        """The user source of `strategy_id`, None for a built-in (NOT_FOUND if neither)."""
        self.get(strategy_id)
        entry = self._user.get(strategy_id)
        return entry[0] if entry is not None else None

    def is_builtin(self, strategy_id: str) -> bool:
        return strategy_id in self.builtins()

    def add(self, source: str, described: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        """Keep a user strategy the worker has checked (`described` is its description)."""
        strategy_id = described["strategy_id"]
        if strategy_id in RESERVED_IDS:
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"{strategy_id!r} is reserved (GET /v1/strategies/{strategy_id} is another "
                "route); give your class another `id`",
            )
        if strategy_id in self.builtins():
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"{strategy_id!r} is a built-in strategy's id; give your class another `id`",
            )
        if strategy_id in self._user and not replace:
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"a user strategy {strategy_id!r} exists already; remove it first or replace it "
                "(`vmx strategy add FILE --replace`, or ?replace=true)",
            )
        described = {**described, "kind": "user"}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{strategy_id}.py").write_text(source, encoding="utf-8")
            (self.directory / f"{strategy_id}.json").write_text(
                jsonfmt.dumps(described), encoding="utf-8"
            )
        self._user[strategy_id] = (source, described)
        return described

    def remove(self, strategy_id: str) -> dict[str, Any]:
        if strategy_id in self.builtins():
            raise InvalidParameter(
                "strategy_id", strategy_id, f"{strategy_id!r} is built in and cannot be removed"
            )
        entry = self._user.pop(strategy_id, None)
        if entry is None:
            raise NotFound(f"Unknown user strategy {strategy_id!r}", {"strategy_id": strategy_id})
        if self.directory is not None:
            for suffix in (".py", ".json"):
                (self.directory / f"{strategy_id}{suffix}").unlink(missing_ok=True)
        return entry[1]
