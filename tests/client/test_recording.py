"""Recordings: the writer, the reader, and `vmx replay`'s errors (in process: no engine needed)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.client.recording import Recorder, Recording, RecordingError

START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_recorder_writes_a_versioned_header_and_exact_messages() -> None:
    out = io.StringIO()
    recorder = Recorder(
        out,
        stream="market",
        instruments=["BINANCE:BTC/USDT"],
        channels=["book"],
        api_url="http://127.0.0.1:1",
        started_at=START,
        started_ns=1_000,
    )
    recorder.write({"type": "trade", "price": Decimal("60000.10"), "received_at": 1_500})
    recorder.write({"type": "ticker", "price": None, "received_at": 1_200})  # clock went back
    lines = out.getvalue().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "vmx-recording" and header["version"] == 1
    assert header["started_at"] == "2026-11-24T15:00:00.000000Z"
    assert header["instruments"] == ["BINANCE:BTC/USDT"] and header["channels"] == ["book"]
    assert lines[1] == '{"t": 500, "msg": {"type": "trade", "price": 60000.10}}'
    assert json.loads(lines[2])["t"] == 500  # never decreasing


def test_reading_back_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "r.ndjson"
    with Recorder.open(path, stream="orders", started_ns=0) as recorder:
        for i in range(3):
            recorder.write({"type": "order", "order_id": str(i), "received_at": i * 10})
    with Recording(path) as recording:
        assert recording.header["stream"] == "orders"
        assert [(t, m["order_id"]) for t, m in recording.entries()] == [
            (0, "0"),
            (10, "1"),
            (20, "2"),
        ]


BAD = [
    ("", "line 1: empty file"),
    ('{"t": 1, "msg": {"type": "ticker"}}\n', "line 1: the first line is not a vmx recording"),
    ('{"format": "vmx-recording", "version": 99}\n', "version 99 is not supported"),
    ('{"format": "vmx-recording", "version": 1}\nnot json\n', "line 2 column 1: not valid JSON"),
    (
        '{"format": "vmx-recording", "version": 1}\n{"t": 5, "msg": {"type": "ticker"}}\n'
        '{"t": 4, "msg": {"type": "ticker"}}\n',
        'line 3: "t" goes back in time',
    ),
    ('{"format": "vmx-recording", "version": 1}\n{"t": 1, "msg": 3}\n', 'line 2: "msg" must be'),
    ('{"format": "vmx-recording", "version": 1}\n{"msg": {"type": "x"}}\n', 'line 2: "t" must'),
    ('{"format": "vmx-recording", "version": 1}\n[1]\n', "line 2: each line must be a JSON"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_a_malformed_recording_is_a_clear_error_exit_2(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(content)
    result = CliRunner().invoke(vmx_app, ["replay", str(path), "--speed", "max"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(RecordingError, match=message.split(": ", 1)[-1][:20]), Recording(path) as r:
        list(r.entries())


def test_replay_errors_before_reading_and_lines_before_a_bad_one(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(vmx_app, ["replay", str(tmp_path / "nope.ndjson")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    for speed in ("fast", "0", "-2", "inf"):
        bad = runner.invoke(vmx_app, ["replay", str(tmp_path / "nope.ndjson"), "--speed", speed])
        assert bad.exit_code == 2 and "--speed must be" in bad.stderr
    path = tmp_path / "half.ndjson"
    path.write_text(
        '{"format": "vmx-recording", "version": 1}\n'
        '{"t": 1, "msg": {"type": "trade", "trade_id": "1"}}\n'
        '{"t": 2, "msg": {"type": "connection", "state": "live"}}\n'
        "{broken\n"
    )
    result = runner.invoke(vmx_app, ["replay", str(path), "--speed", "max"])
    assert result.exit_code == 2 and "line 4" in result.stderr
    assert result.stdout == '{"type": "trade", "trade_id": "1"}\n'  # data only, up to the fault


def test_replay_paced_takes_the_recorded_time_divided_by_speed(tmp_path: Path) -> None:
    import time

    path = tmp_path / "paced.ndjson"
    path.write_text(
        '{"format": "vmx-recording", "version": 1}\n'
        '{"t": 0, "msg": {"type": "trade", "trade_id": "1"}}\n'
        '{"t": 400000000, "msg": {"type": "trade", "trade_id": "2"}}\n'
    )
    started = time.monotonic()
    result = CliRunner().invoke(vmx_app, ["replay", str(path), "--speed", "2"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2
    assert 0.18 <= elapsed < 2.0  # 0.4 s recorded at twice the speed
