"""The real `vmx` as a subprocess: the command line, one plain runner and a restartable
`vmx engine serve`, shared by every test that starts a real process (tests/e2e/ mostly). Tests
that need more (a umask, stdin closed, the output kept for a later check) wrap `vmx` or `VMX` in
their own module."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

_SCRIPT = Path(sys.executable).with_name("vmx")
# The installed console script when there is one (what a user runs), else the module.
VMX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "velocimex_cli"]


def make_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any VMX_ variable or FORCE_COLOR, with VMX_HOME=home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.pop("FORCE_COLOR", None)
    env["VMX_HOME"] = str(home)
    env.update(extra)
    return env


def vmx(
    env: dict[str, str],
    *args: str,
    input: str | None = None,
    timeout: float = 60,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`vmx ARGS` in `env`, its output captured as text; `input` is sent on stdin, `umask` is
    set in the child before it starts."""
    return subprocess.run(
        [*VMX, *args],
        env=env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """`vmx engine serve --port 0 --no-simulate ARGS` in the foreground; (process, url) once it
    listens."""
    process = subprocess.Popen(
        [*VMX, "engine", "serve", "--port", "0", "--no-simulate", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    line = ""
    while "listening on" not in line:
        assert time.monotonic() < deadline and process.poll() is None, line
        line = process.stderr.readline()
    return process, line.split("listening on ")[1].split()[0]


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 15 seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Engine:
    """`vmx engine serve` on a fixed data dir; restartable on the same port."""

    def __init__(self, root: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
        self.env["VMX_HOME"] = str(root / "home")
        self.data_dir = root / "engine"
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--data-dir", str(self.data_dir), "--always-open"]
        self.process = subprocess.Popen(
            [*VMX, "engine", "serve", *args, "--no-rate-limit"],
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                threading.Thread(target=self.process.stderr.read, daemon=True).start()
                return
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("the engine did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        made = subprocess.run(
            [*VMX, "engine", "keys", "create", "--json", "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)
        env = dict(self.env)
        env.update(
            VMX_API_URL=self.url, VMX_API_KEY=key["api_key"], VMX_API_SECRET=key["api_secret"]
        )
        return env


class Reader:
    """Collects a subprocess's stdout lines and stderr text in threads."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.err: list[str] = []
        assert process.stdout is not None and process.stderr is not None
        for stream, sink in ((process.stdout, self.lines), (process.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str], sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_for(self, predicate: Any, limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; stderr: {''.join(self.err)[-2000:]}")
            time.sleep(0.05)


IMPORT_PROBE = """
import sys, json
sys.argv = ["vmx", *sys.argv[1:]]
from velocimex_cli.main import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code or 0)
"""
