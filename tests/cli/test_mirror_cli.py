"""What the local engine mirrors, on the command line: `vmx engine serve|start --mirror
--venue-config` refused with the spec's message before anything starts, the `engine_mirror` and
`engine_venue_config` settings validated and kept, and the serve command the launcher builds
from them when vmx starts the engine by itself."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import Harness
from velocimex_cli.config import settings as settings_mod
from velocimex_cli.local import launcher

BAD_MIRRORS = [
    (["--mirror", "binanceBTC/USDT"], "names no venue: write it as VENUE:SYMBOL"),
    (["--mirror", "binance:"], "names no symbol"),
    (["--mirror", "binance:BTCUSDT"], "'BTCUSDT' is not a spot symbol such as BTC/USDT"),
    (["--mirror", "Bin_ance:BTC/USDT"], "is not a ccxt exchange id"),
    (["--mirror", "nasdaq:AAPL/USD"], "NASDAQ stays simulated"),
    (
        ["--mirror", "binance:BTC/USDT", "--mirror", "binance:ETH/USDT"],
        "binance is mirrored twice: name all its symbols once",
    ),
]


@pytest.mark.parametrize("command", ["serve", "start"])
@pytest.mark.parametrize(("args", "message"), BAD_MIRRORS)
def test_a_bad_mirror_is_refused_before_anything_starts(
    vmx: Harness, tmp_path: Path, command: str, args: list[str], message: str
) -> None:
    data_dir = tmp_path / "engine-data"
    result = vmx.run("engine", command, "--data-dir", str(data_dir), *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert not data_dir.exists()  # nothing was opened, locked or started
    assert launcher.status() is None


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["serve", "start"])
def test_a_bad_venue_config_is_refused_naming_the_file_and_the_fault(
    vmx: Harness, tmp_path: Path, command: str
) -> None:
    mirror = ["--mirror", "binance:BTC/USDT"]
    missing = tmp_path / "nowhere.json"
    cases = [
        (missing, f"--venue-config {missing}: cannot read it (No such file or directory)"),
        (write(tmp_path / "broken.json", '{"binance": {\n  "urls": }'), "line 2, column 11"),
        (write(tmp_path / "list.json", "[1, 2]"), "must be a JSON object such as"),
        (write(tmp_path / "value.json", '{"binance": 3}'), "the value for 'binance' must be"),
        (write(tmp_path / "venue.json", '{"Binance!": {}}'), "'Binance!' is not a ccxt"),
    ]
    for path, message in cases:
        result = vmx.run("engine", command, *mirror, "--venue-config", str(path))
        assert result.exit_code == 2, (path, result.stderr)
        assert message in result.stderr, result.stderr
    alone = vmx.run("engine", command, "--venue-config", str(tmp_path / "value.json"))
    assert alone.exit_code == 2
    assert "--venue-config configures the venues an engine mirrors, and none is" in alone.stderr
    assert launcher.status() is None


def test_with_json_a_refused_mirror_is_the_error_json(vmx: Harness) -> None:
    from velocimex_cli.wire import jsonfmt

    result = vmx.run("engine", "start", "--mirror", "binance", "--json")
    assert result.exit_code == 2
    error = jsonfmt.loads(result.stderr)["error"]
    assert error["code"] == "MIRROR_SPEC" and "names no venue" in error["message"]


def config_file(vmx: Harness) -> dict:
    return tomllib.loads((vmx.home / "config" / "config.toml").read_text(encoding="utf-8"))


def test_the_mirror_setting_is_parsed_as_the_flag_is_and_kept_in_its_plain_form(
    vmx: Harness,
) -> None:
    set_ = vmx.run("config", "set", "engine_mirror", " binance:btc/usdt,eth/usdt ;kraken:BTC/USD")
    assert set_.exit_code == 0, set_.stderr
    plain = "binance:BTC/USDT,ETH/USDT kraken:BTC/USD"
    assert f"Set engine_mirror = {plain}" in set_.stderr
    assert "a running one keeps what it mirrors" in set_.stderr
    assert vmx.run("config", "get", "engine_mirror").stdout == plain + "\n"
    assert config_file(vmx)["engine_mirror"] == plain
    assert vmx.json("config", "list")["engine_mirror"] == plain
    cleared = vmx.run("config", "set", "engine_mirror", "")
    assert cleared.exit_code == 0
    assert vmx.run("config", "get", "engine_mirror").stdout == "\n"


@pytest.mark.parametrize(("value", "message"), [(a[1], m) for a, m in BAD_MIRRORS[:5]])
def test_a_bad_mirror_setting_is_refused_and_the_file_keeps_the_good_one(
    vmx: Harness, value: str, message: str
) -> None:
    assert vmx.run("config", "set", "engine_mirror", "kraken:BTC/USD").exit_code == 0
    result = vmx.run("config", "set", "engine_mirror", value)
    assert result.exit_code == 2
    assert "engine_mirror" in result.stderr and message in result.stderr
    assert config_file(vmx)["engine_mirror"] == "kraken:BTC/USD"


def test_a_mirror_setting_edited_wrong_in_the_file_is_reported_when_read(vmx: Harness) -> None:
    path = vmx.home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('engine_mirror = "binance:BTC/USDT binance:ETH/USDT"\n', encoding="utf-8")
    result = vmx.run("config", "get", "engine_mirror")
    assert result.exit_code == 2
    assert "binance is mirrored twice" in result.stderr
    assert "vmx config set engine_mirror" in result.stderr


def test_the_venue_config_setting_is_checked_when_set_and_kept_as_an_absolute_path(
    vmx: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "venues.json", '{"binance": {"sandbox": true}}')
    result = vmx.run("config", "set", "engine_venue_config", "venues.json")
    assert result.exit_code == 0, result.stderr
    assert config_file(vmx)["engine_venue_config"] == str(tmp_path / "venues.json")
    write(tmp_path / "bad.json", '{"binance": [1]}')
    refused = vmx.run("config", "set", "engine_venue_config", "bad.json")
    assert refused.exit_code == 2
    assert "engine_venue_config: --venue-config" in refused.stderr
    assert "the value for 'binance' must be an object" in refused.stderr
    gone = vmx.run("config", "set", "engine_venue_config", str(tmp_path / "gone.json"))
    assert gone.exit_code == 2 and "cannot read it" in gone.stderr
    assert config_file(vmx)["engine_venue_config"] == str(tmp_path / "venues.json")


def test_the_launcher_passes_the_settings_to_the_engine_it_starts(
    vmx: Harness, tmp_path: Path
) -> None:
    assert launcher.auto_start_args(settings_mod.load()) == []  # nothing set: no mirrors
    venues = write(tmp_path / "venues.json", '{"kraken": {"timeout": 3000}}')
    assert vmx.run("config", "set", "engine_venue_config", str(venues)).exit_code == 0
    assert launcher.auto_start_args(settings_mod.load()) == []  # a config alone mirrors nothing
    mirror = "binance:BTC/USDT,ETH/USDT;kraken:BTC/USD"
    assert vmx.run("config", "set", "engine_mirror", mirror).exit_code == 0
    args = launcher.auto_start_args(settings_mod.load())
    assert args == [
        "--mirror",
        "binance:BTC/USDT,ETH/USDT",
        "--mirror",
        "kraken:BTC/USD",
        "--venue-config",
        str(venues),
    ]
    command = launcher.serve_command(tmp_path / "data", args, port=7000)
    assert command[:3] == [sys.executable, "-m", "velocimex_cli.cli.engine"]
    assert command[3:] == ["serve", "--port", "7000", "--data-dir", str(tmp_path / "data"), *args]
    # The engine parses what it is given as `vmx engine serve` does: the same mirrors.
    from velocimex_cli.local import mirrors

    parsed = mirrors.choose(args[1:4:2], Path(args[5]))
    assert [m.text() for m in parsed.mirrors] == ["binance:BTC/USDT,ETH/USDT", "kraken:BTC/USD"]
    assert parsed.venue_config == {"kraken": {"timeout": 3000}}


def test_a_venue_config_gone_since_it_was_set_stops_the_auto_start_with_exit_2(
    vmx: Harness, tmp_path: Path
) -> None:
    venues = write(tmp_path / "venues.json", "{}")
    assert vmx.run("config", "set", "engine_venue_config", str(venues)).exit_code == 0
    assert vmx.run("config", "set", "engine_mirror", "binance:BTC/USDT").exit_code == 0
    venues.unlink()
    with pytest.raises(launcher.MirrorSettingError, match="cannot read it") as caught:
        launcher.auto_start_args(settings_mod.load())
    assert 'vmx config set engine_mirror ""' in str(caught.value)
    # The command that would start the engine says so, with exit 2, and starts nothing.
    result = vmx.run(
        "order", "list", env={"VMX_API_URL": None, "VMX_API_KEY": None, "VMX_API_SECRET": None}
    )
    assert result.exit_code == 2, result.stderr
    assert "the local engine could not start" in result.stderr
    assert "cannot read it" in result.stderr
    assert launcher.status() is None


def test_a_recording_of_a_mirrored_exchange_replays_its_book_status(
    vmx: Harness, tmp_path: Path
) -> None:
    from velocimex_cli.client.recording import Recorder
    from velocimex_cli.wire import jsonfmt
    from velocimex_cli.wire.streams import book_status_message

    snapshot = {
        "type": "book_snapshot",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "timestamp": "2026-11-24T15:00:00.000000Z",
        "sequence": 7,
        "bids": [{"price": "100.00", "quantity": "1"}],
        "asks": [{"price": "101.00", "quantity": "1"}],
    }
    down = book_status_message("BINANCE", "BTC/USDT", False, "stalled", "2026-11-24T15:00:01Z")
    path = tmp_path / "mirrored.ndjson"
    with Recorder.open(path, stream="market", started_ns=0) as recorder:
        for i, message in enumerate([snapshot, down, snapshot]):
            recorder.write({**message, "received_at": i})
    result = vmx.run("replay", str(path), "--speed", "max")
    assert result.exit_code == 0, result.stderr
    types = [jsonfmt.loads(line)["type"] for line in result.stdout.splitlines()]
    assert types == ["book_snapshot", "book_status", "book_snapshot"]
    assert jsonfmt.loads(result.stdout.splitlines()[1])["reason"] == "stalled"
