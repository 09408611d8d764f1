"""No strategy worker outlives its engine, however the engine ends and whenever it does.

A real `vmx engine serve`, a busy user strategy deployed on it over HTTP, then the engine is
killed (SIGKILL: nothing of it runs again) while the strategy works or while its worker is
being started; every process of the worker (a confined worker's supervisor and the worker
forked as PID 1 of its own namespace) must be gone within a few seconds. Confined where this
machine can confine workers, and unconfined (the fallback) everywhere.

The deadly moment of a confined start is the fork of the worker: its death signal can only be
armed after it, by the worker itself, and tied to the supervisor, which could already be dead.
That moment is a few hundred microseconds wide, so the test holds it open from outside: it
traces the supervisor (ptrace), stops the new worker right after the fork, kills the engine,
waits for the supervisor to die of it, and only then lets the worker go on.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import httpx
import pytest

from tests.process_table import (
    command_line,
    kill_all,
    parent,
    strategy_workers,
    wait_gone,
    worker_parent,
)
from tests.processes import VMX, Engine
from velocimex_cli.engine.drivers.strategies import sandbox

GONE_WITHIN = 5.0  # seconds: the kernel's parent-death signal is immediate; this is slack

# Busy from its first line to its last: __init__ spins `warmup` seconds during the deploy (past
# the engine's start budget if a test asks for more), on_book on every book change
# (the simulator moves the books), each well inside the engine's time budgets. It never talks
# to the engine while it spins: only the kernel can stop it then.
BUSY = """
import time
from velocimex_cli.strategy import Param, Strategy


class Busy(Strategy):
    id = "busy"
    params = {"warmup": Param(int, 0, min=0)}

    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        self.spin(config.warmup)

    def on_book(self, book):
        self.spin(0.3)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
"""

CONFINED = pytest.param(
    "confined",
    marks=pytest.mark.skipif(
        sandbox.confinement_problem() is not None,
        reason=f"workers cannot be confined here: {sandbox.confinement_problem()}",
    ),
)


class Served:
    """A real engine with a key allowed to add and deploy strategies."""

    def __init__(self, root: Path, mode: str) -> None:
        self.engine = Engine(root)
        if mode == "unconfined":
            self.engine.env[sandbox.FORCE_UNCONFINED_ENV] = "1"
        self.engine.start()
        made = subprocess.run(
            [*VMX, "engine", "keys", "create", "--json", "--permissions",
             "read,trade,strategies", "--data-dir", str(self.engine.data_dir)],
            env=self.engine.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)
        self.headers = {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}
        added = httpx.post(
            f"{self.engine.url}/v1/strategies",
            json={"source": BUSY},
            headers=self.headers,
            timeout=30,
        )
        assert added.status_code == 201, added.text

    @property
    def pid(self) -> int:
        assert self.engine.process is not None
        return self.engine.process.pid

    def deploy(self) -> httpx.Response:
        return httpx.post(
            f"{self.engine.url}/v1/strategies/busy/deploy",
            json={"exchange": "BINANCE", "symbol": "BTC/USDT", "params": {}},
            headers=self.headers,
            timeout=30,
        )

    def deploy_in_background(self, warmup: int) -> Popen[bytes]:
        """A deploy from another process (it hangs with the engine: not waited for), its
        worker busy in __init__ for `warmup` seconds."""
        request = (
            "import httpx, sys, json; httpx.post(sys.argv[1], json=json.loads(sys.argv[2]), "
            "headers=json.loads(sys.argv[3]), timeout=60)"
        )
        body = {"exchange": "BINANCE", "symbol": "BTC/USDT", "params": {"warmup": warmup}}
        return subprocess.Popen(
            [sys.executable, "-c", request, f"{self.engine.url}/v1/strategies/busy/deploy",
             json.dumps(body), json.dumps(self.headers)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    engine = Served(tmp_path, request.param)
    try:
        yield engine
    finally:
        left = strategy_workers(engine.pid)
        engine.engine.stop()
        kill_all(left)  # only what a failed assertion left: the test has said so already


def _busy_workers(engine: Served, seconds: float = 20.0) -> list[int]:
    """The worker processes of the engine, once one of them is using the CPU."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = strategy_workers(engine.pid)
        if any(_cpu_ticks(pid) > 0 for pid in workers):
            return workers
        time.sleep(0.05)
    raise AssertionError("no worker of the busy strategy started")


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _running_busy_workers(served: Served) -> list[int]:
    deployed = served.deploy()
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["data"]["state"] == "running"
    time.sleep(1.0)  # the books move: on_book spins, one call after another
    workers = _busy_workers(served)
    confined = "confined" in command_line(workers[0])
    assert len(workers) == (2 if confined else 1), workers  # supervisor + worker, or worker
    return workers


@pytest.mark.parametrize("served", [CONFINED, "unconfined"], indirect=True)
@pytest.mark.parametrize("ending", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_busy_worker_dies_when_its_engine_is_killed(served: Served, ending: int) -> None:
    workers = _running_busy_workers(served)
    assert served.engine.process is not None
    served.engine.process.send_signal(ending)
    served.engine.process.wait(30)
    left = wait_gone(workers, GONE_WITHIN)
    name = signal.Signals(ending).name
    assert not left, f"workers {left} outlived their engine (ended by {name})"


@pytest.mark.parametrize("served", [CONFINED], indirect=True)
def test_a_confined_worker_dies_with_its_supervisor(served: Served) -> None:
    workers = _running_busy_workers(served)
    supervisor = next(pid for pid in workers if parent(pid) == served.pid)
    worker = next(pid for pid in workers if pid != supervisor)
    os.kill(supervisor, signal.SIGKILL)
    left = wait_gone([worker], GONE_WITHIN)
    assert not left, f"the worker {worker} outlived its supervisor {supervisor}"
    assert served.engine.process is not None and served.engine.process.poll() is None


@pytest.mark.parametrize("served", [CONFINED, "unconfined"], indirect=True)
def test_a_worker_dies_when_its_engine_is_killed_during_the_deploy(served: Served) -> None:
    client = served.deploy_in_background(warmup=3)
    try:
        workers = _busy_workers(served)  # __init__ spins: the deploy waits
        served.engine.kill()
        left = wait_gone(workers, GONE_WITHIN)
        assert not left, f"workers {left} outlived their engine (killed during the deploy)"
    finally:
        client.kill()
        client.wait()


# -- the fork of a confined worker, held open ------------------------------------------------
PTRACE_CONT, PTRACE_DETACH, PTRACE_GETEVENTMSG, PTRACE_SEIZE = 7, 17, 0x4201, 0x4206
TRACE_FORKS = 0x2 | 0x4 | 0x8  # PTRACE_O_TRACEFORK | TRACEVFORK | TRACECLONE
WAIT_ALL = 0x40000000  # __WALL


class Tracer:
    """Just enough ptrace to stop a process's next child right after its fork."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)

    def call(self, request: int, pid: int, data: int = 0, address: int = 0) -> None:
        result = self.libc.ptrace(
            ctypes.c_long(request), ctypes.c_long(pid), ctypes.c_void_p(address),
            ctypes.c_void_p(data),
        )  # fmt: skip
        if result == -1:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))

    def next_child(self, pid: int) -> int:
        """Let `pid` run until it forks; the child, stopped before it ran anything."""
        while True:
            _, status = os.waitpid(pid, WAIT_ALL)
            assert os.WIFSTOPPED(status), f"the traced process ended: status {status}"
            if status >> 16:  # a fork, vfork or clone event
                message = ctypes.c_ulong()
                self.call(PTRACE_GETEVENTMSG, pid, ctypes.addressof(message))
                child = message.value
                _, status = os.waitpid(child, WAIT_ALL)  # its first stop, before it runs
                assert os.WIFSTOPPED(status), status
                return child
            signal_number = os.WSTOPSIG(status)
            self.call(PTRACE_CONT, pid, 0 if signal_number == signal.SIGTRAP else signal_number)

    def wait_end(self, pid: int) -> None:
        while True:
            _, status = os.waitpid(pid, WAIT_ALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                return


def _new_worker(engine: Served, known: set[int], seconds: float = 20.0) -> int:
    """The first process of a worker started since `known` was taken: its supervisor."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in strategy_workers(engine.pid):
            if pid not in known:
                return pid
        time.sleep(0.001)
    raise AssertionError("the engine started no worker")


def _traced_before_its_fork(tracer: Tracer, engine: Served) -> tuple[int, list[Popen[bytes]]]:
    """Deploy until a worker's supervisor is traced before it forked (on a loaded machine the
    fork may come first: that worker is left to the engine's end); its pid and the clients."""
    clients = []
    for _ in range(5):
        known = set(strategy_workers(engine.pid))
        # Longer than the wait below: the worker never reaches the engine's closed socket.
        clients.append(engine.deploy_in_background(warmup=60))
        supervisor = _new_worker(engine, known)
        try:
            tracer.call(PTRACE_SEIZE, supervisor, TRACE_FORKS)
        except OSError as exc:
            pytest.skip(f"this machine does not let a test trace its own processes: {exc}")
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
        if not children:
            return supervisor, clients
        tracer.call(PTRACE_DETACH, supervisor)
    raise AssertionError("5 workers forked before they could be traced")


@pytest.mark.parametrize("served", [CONFINED], indirect=True)
def test_a_confined_worker_dies_when_its_engine_dies_right_after_its_fork(
    served: Served,
) -> None:
    tracer = Tracer()
    clients: list[Popen[bytes]] = []
    worker = None
    try:
        supervisor, clients = _traced_before_its_fork(tracer, served)
        worker = tracer.next_child(supervisor)
        assert worker_parent(command_line(worker)) == served.pid
        served.engine.kill()  # the supervisor dies with it (its parent-death signal)
        tracer.wait_end(supervisor)
        tracer.call(PTRACE_DETACH, worker)  # the worker goes on, its supervisor dead
        left = wait_gone([worker], GONE_WITHIN)
        assert not left, (
            f"the confined worker {worker} outlived its supervisor and engine: it was forked "
            "just before they died"
        )
    finally:
        if worker is not None:
            kill_all([worker])
        for client in clients:
            client.kill()
            client.wait()
