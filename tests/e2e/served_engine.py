"""A real engine served by `vmx engine serve` on a loopback port, with a key for it, for tests
that drive a real `vmx` against it (on a pty or as a plain subprocess)."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.processes import VMX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Engine:
    data_dir: Path
    port: int
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*VMX, "engine", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if "listening on" in line:
                return
            if not line and self.process.poll() is not None:
                break
        raise AssertionError("the engine did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def vmx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*VMX, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
