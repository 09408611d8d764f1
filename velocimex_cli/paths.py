"""Where vmx keeps its files.

With `VMX_HOME` set, everything (config, credentials, engine data, state, logs) lives under that
one directory; otherwise the platform's conventional directories (platformdirs) are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vmx"


def _home() -> Path | None:
    value = os.environ.get("VMX_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "config"
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def state_dir() -> Path:
    """Run-time state of the background engine: address, pid file, log."""
    home = _home()
    if home is not None:
        return home / "state"
    from platformdirs import user_state_path

    return user_state_path(APP_NAME)


def engine_data_dir() -> Path:
    """The embedded engine's default data directory (holds engine.db)."""
    return data_dir() / "engine"


def cache_dir() -> Path:
    """Results that can be recomputed (backtest sweeps)."""
    home = _home()
    if home is not None:
        return home / "cache"
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)
