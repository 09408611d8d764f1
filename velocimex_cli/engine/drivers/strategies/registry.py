"""Which strategies an engine can deploy: the built-ins and the user files added to it.

A user strategy is a Python source file defining one `Strategy` subclass. Adding one never
runs its code in the engine's process: the file is checked in a short-lived worker (syntax,
exactly one Strategy subclass, sound parameter declarations, with the same time and memory
limits as a deployment), and what the worker reports (id, name, parameters) is kept beside the
source, so listing them runs nothing. An engine without a data directory keeps them in memory.

Built-ins are shared by every account. A user strategy belongs to the account that added it:
only that account's keys see, deploy, replace or remove it (for any other account it does not
exist), and two accounts may each have a strategy of the same id. On disk each account has its
own directory, `<data_dir>/strategies/<account directory>/<id>.py` and `<id>.json`, whose name
is the account name made filesystem-safe (see `account_directory`) and whose `.account` file
holds the account name itself.

Engines before accounts owned strategies kept them flat, `<data_dir>/strategies/<id>.py`; at
start such files are moved into the directory of LEGACY_OWNER, the account of the local
profile's key (`vmx` provisions it for the account "local"): there was no record of who added
them, and on a local engine that is who did.
"""

from __future__ import annotations

import hashlib
import linecache
import logging
import os
from pathlib import Path
from typing import Any

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter, NotFound

log = logging.getLogger("vmx.engine.strategies")

RESERVED_IDS = frozenset({"deployments"})
MAX_SOURCE_BYTES = 48 * 1024  # the body limit is 64 KiB, and JSON escapes the text
LEGACY_OWNER = "local"  # who owns the files of the flat layout (see the module's docstring)
ACCOUNT_FILE = ".account"  # in an account's directory: the account's name, UTF-8
SAFE_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_DIRECTORY_CHARS = 120  # longer encoded names are shortened (see account_directory)


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
def account_directory(account: str) -> str:
    """The directory name of `account`'s strategies: one name per account, never the same for
    two accounts, even on a case-insensitive filesystem.

    Lower-case ASCII letters, digits, `_` and `-` are kept; every other character (upper case
    included, and `%`, `.`, `/`) becomes `%XX` per UTF-8 byte, hex in upper case. So `.` and
    `..` cannot come out, and folding the case of a name changes only escapes' hex digits,
    which still decode to the same bytes. A name longer than MAX_DIRECTORY_CHARS keeps its first
    40 characters, then `~` (never produced otherwise) and the SHA-256 of the account name.
    """
    parts = [
        c if c in SAFE_CHARACTERS else "".join(f"%{b:02X}" for b in c.encode()) for c in account
    ]
    name = "".join(parts)
    if len(name) > MAX_DIRECTORY_CHARS:
        name = f"{name[:40]}~{hashlib.sha256(account.encode()).hexdigest()}"
    return name


def _unknown(strategy_id: str) -> NotFound:
    """The one answer for an id the caller has no strategy of: the same whether another
    account has one of that id or nobody does."""
    return NotFound(
        f"Unknown strategy {strategy_id!r}; list them with GET /v1/strategies",
        {"strategy_id": strategy_id},
    )


def _write(path: Path, text: str) -> None:
    """Replace `path` with `text` at once (a crash leaves the old file or the new one)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


Entry = tuple[str, dict[str, Any]]  # (source, description)


class StrategyRegistry:
    """Built-ins plus each account's user strategies (files under `<data_dir>/strategies/`,
    or in memory)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.directory = data_dir / "strategies" if data_dir is not None else None
        self._user: dict[str, dict[str, Entry]] = {}  # account -> id -> entry
        self._builtins: dict[str, dict[str, Any]] | None = None
        if self.directory is not None and self.directory.is_dir():
            self._migrate_flat_layout(self.directory)
            for folder in sorted(p for p in self.directory.iterdir() if p.is_dir()):
                self._load_account(folder)

    # -- the files -------------------------------------------------------------------------
    def _account_folder(self, account: str) -> Path | None:
        """The account's directory (made, with its `.account` file, when missing)."""
        if self.directory is None:
            return None
        folder = self.directory / account_directory(account)
        if not (folder / ACCOUNT_FILE).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            _write(folder / ACCOUNT_FILE, account)
        return folder

    def _migrate_flat_layout(self, directory: Path) -> None:
        """Move the files of the flat layout into LEGACY_OWNER's directory (see the module's
        docstring). A file whose name is taken there already by another file stays (logged)."""
        flat = sorted(
            p for p in directory.iterdir() if p.is_file() and p.suffix in (".py", ".json")
        )
        if not flat:
            return
        folder = self._account_folder(LEGACY_OWNER)
        assert folder is not None
        for path in flat:
            target = folder / path.name
            if not target.exists():
                os.replace(path, target)
            elif target.read_bytes() == path.read_bytes():
                path.unlink()  # moved before, by a start that stopped half way
            else:
                log.warning(
                    "%s was left in place: %s exists already with other content; remove one",
                    path, target,
                )  # fmt: skip
        log.info(
            "user strategies of the flat layout now belong to the account %r (%s)",
            LEGACY_OWNER, folder,
        )  # fmt: skip

    def _load_account(self, folder: Path) -> None:
        try:
            account = (folder / ACCOUNT_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            log.warning(
                "%s has no readable %s file; its strategies are not loaded", folder, ACCOUNT_FILE
            )
            return
        if not account or account_directory(account) != folder.name:
            log.warning("%s does not hold the strategies of %r; not loaded", folder, account)
            return
        found = self._user.setdefault(account, {})
        for meta in sorted(folder.glob("*.json")):
            try:
                described = jsonfmt.loads(meta.read_text(encoding="utf-8"))
                source = meta.with_suffix(".py").read_text(encoding="utf-8")
                strategy_id = described["strategy_id"]
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("%s cannot be read; that strategy is not loaded", meta)
                continue
            found[strategy_id] = (source, described)

    # -- views -----------------------------------------------------------------------------
    def builtins(self) -> dict[str, dict[str, Any]]:
        if self._builtins is None:
            self._builtins = {}
            for strategy_id, cls in sorted(builtin_classes().items()):
                described = cls.describe()
                described["kind"] = "builtin"
                self._builtins[strategy_id] = described
        return self._builtins

    def list(self, account: str) -> list[dict[str, Any]]:
        """The built-ins and `account`'s own user strategies."""
        own = self._user.get(account, {})
        return [*self.builtins().values(), *(d for _, d in own.values())]

    def _entry(self, account: str, strategy_id: str) -> Entry | None:
        return self._user.get(account, {}).get(strategy_id)

    def get(self, account: str, strategy_id: str) -> dict[str, Any]:
        """A built-in, or `account`'s user strategy of that id (NOT_FOUND otherwise)."""
        found = self.builtins().get(strategy_id)
        if found is not None:
            return found
        entry = self._entry(account, strategy_id)
        if entry is None:
            raise _unknown(strategy_id)
        return entry[1]

    def source_of(self, account: str, strategy_id: str) -> str | None:
        """The user source of `account`'s `strategy_id`, None for a built-in (NOT_FOUND if
        neither)."""
        self.get(account, strategy_id)
        entry = self._entry(account, strategy_id)
        return entry[0] if entry is not None else None

    def is_builtin(self, strategy_id: str) -> bool:
        return strategy_id in self.builtins()

    # -- changes ---------------------------------------------------------------------------
    def add(
        self, account: str, source: str, described: dict[str, Any], *, replace: bool
    ) -> dict[str, Any]:
        """Keep a user strategy of `account` the worker has checked (`described` is its
        description). `replace` replaces the account's strategy of that id, which must exist."""
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
                f"{strategy_id!r} is a built-in strategy's id (built-ins cannot be replaced); "
                "give your class another `id`",
            )
        exists = self._entry(account, strategy_id) is not None
        if exists and not replace:
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"a user strategy {strategy_id!r} exists already; remove it first or replace it "
                '(`vmx strategy add FILE --replace`, or "replace": true)',
            )
        if replace and not exists:
            raise _unknown(strategy_id)
        described = {**described, "kind": "user"}
        folder = self._account_folder(account)
        if folder is not None:
            _write(folder / f"{strategy_id}.py", source)
            _write(folder / f"{strategy_id}.json", jsonfmt.dumps(described))
        self._user.setdefault(account, {})[strategy_id] = (source, described)
        return described

    def remove(self, account: str, strategy_id: str) -> dict[str, Any]:
        if strategy_id in self.builtins():
            raise InvalidParameter(
                "strategy_id", strategy_id, f"{strategy_id!r} is built in and cannot be removed"
            )
        entry = self._user.get(account, {}).pop(strategy_id, None)
        if entry is None:
            raise _unknown(strategy_id)
        if self.directory is not None:
            folder = self.directory / account_directory(account)
            for suffix in (".json", ".py"):
                (folder / f"{strategy_id}{suffix}").unlink(missing_ok=True)
        return entry[1]
