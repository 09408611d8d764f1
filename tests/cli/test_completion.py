"""The committed completion scripts in completions/ match what `vmx completion SHELL` prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from velocimex_cli.cli.app import app

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_script_is_up_to_date(shell: str) -> None:
    result = CliRunner().invoke(app, ["completion", shell], prog_name="vmx")
    assert result.exit_code == 0
    committed = (COMPLETIONS / f"vmx.{shell}").read_text()
    assert result.stdout == committed, (
        f"completions/vmx.{shell} is out of date; regenerate it with "
        f"`vmx completion {shell} > completions/vmx.{shell}`"
    )


def test_unknown_shell_is_a_usage_error() -> None:
    assert CliRunner().invoke(app, ["completion", "tcsh"]).exit_code == 2


def test_the_script_completes_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VMX_HOME": str(tmp_path),
        "_VMX_COMPLETE": "complete_bash",
        "COMP_WORDS": "vmx ord",
        "COMP_CWORD": "1",
    }
    out = subprocess.run(
        [sys.executable, "-m", "velocimex_cli"], env=env, capture_output=True, text=True
    )
    assert "order" in out.stdout.split()
