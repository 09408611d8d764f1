"""What the local engine is told to mirror: `--mirror`/`--venue-config` on `vmx engine
serve|start`, or the `engine_mirror`/`engine_venue_config` settings when vmx starts the engine
itself; checked here (before anything starts) and turned into the serve command's arguments.

Mirroring needs ccxt (the `live` extra). The CLI never imports it: whether it is installed is
asked of the import system (`importlib.util.find_spec`), which finds the package without
running it. Light on purpose: the launcher imports this only when it starts an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.drivers.venues.spec import (
    MirrorSpecError,
    VenueMirror,
    load_venue_config,
    parse_mirrors,
)

if TYPE_CHECKING:
    from velocimex_cli.config.settings import Settings

LIVE_EXTRA = "pip install 'velocimex-cli[live]'"
MIRROR_SETTING = "engine_mirror"
VENUE_CONFIG_SETTING = "engine_venue_config"

__all__ = [
    "LIVE_EXTRA",
    "MirrorChoice",
    "MirrorSpecError",
    "ccxt_installed",
    "choose",
    "from_settings",
]


@dataclass(frozen=True)
class MirrorChoice:
    """The venues to mirror and the venue config (its file and what it holds), checked."""

    mirrors: tuple[VenueMirror, ...] = ()
    venue_config_path: Path | None = None
    venue_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def serve_args(self) -> list[str]:
        """The `vmx engine serve` arguments that ask for the same (empty: no mirrors)."""
        args: list[str] = []
        for mirror in self.mirrors:
            args += ["--mirror", mirror.text()]
        if self.mirrors and self.venue_config_path is not None:
            args += ["--venue-config", str(self.venue_config_path)]
        return args


def ccxt_installed() -> bool:
    """Whether `import ccxt` would find the package (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("ccxt") is not None
    except (ImportError, ValueError):
        return False


def _needs_ccxt(mirrors: Sequence[VenueMirror], asked_by: str) -> None:
    if mirrors and not ccxt_installed():
        venues = ", ".join(m.venue for m in mirrors)
        raise MirrorSpecError(
            f"{asked_by} mirrors {venues} through ccxt, which is not installed: "
            f"{LIVE_EXTRA} installs it"
        )


def choose(
    mirror_texts: Sequence[str], venue_config: Path | None, *, asked_by: str = "--mirror"
) -> MirrorChoice:
    """Parse and check `--mirror` values and a `--venue-config` file: MirrorSpecError (with
    the spec's message, or the command that installs ccxt) when they cannot be used."""
    mirrors = parse_mirrors(mirror_texts)
    if venue_config is not None and not mirrors:
        raise MirrorSpecError(
            "--venue-config configures the venues an engine mirrors, and none is mirrored: "
            "add --mirror VENUE:SYMBOL (e.g. binance:BTC/USDT), or drop it"
        )
    config: dict[str, dict[str, Any]] = {}
    path = None
    if venue_config is not None:
        path = venue_config.expanduser().resolve()
        config = load_venue_config(path)
    _needs_ccxt(mirrors, asked_by)
    return MirrorChoice(mirrors, path, config)


def from_settings(
    settings: Settings, mirror_texts: Sequence[str] = (), venue_config: Path | None = None
) -> MirrorChoice:
    """What the local engine mirrors when vmx starts it: `--mirror` values when given, else
    the `engine_mirror` setting (nothing when unset); `--venue-config` when given, else the
    `engine_venue_config` setting. MirrorSpecError naming the setting when it cannot be done."""
    if mirror_texts:
        texts, asked_by = list(mirror_texts), "--mirror"
    else:
        setting = settings.get(MIRROR_SETTING)
        texts = [setting] if setting.strip() else []
        asked_by = f"the {MIRROR_SETTING} setting ({setting!r})"
    if venue_config is None and texts:
        configured = settings.get(VENUE_CONFIG_SETTING)
        venue_config = Path(configured) if configured else None
    try:
        return choose(texts, venue_config, asked_by=asked_by)
    except MirrorSpecError as exc:
        if mirror_texts or not texts:
            raise  # the flags' mistake
        raise MirrorSpecError(
            f"{exc}; or start the local engine without mirrors: "
            f'`vmx config set {MIRROR_SETTING} ""`'
        ) from None
