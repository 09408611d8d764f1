"""Strategy code is confined: attacks uploaded and deployed on a real engine all fail.

Each attack is a real user file, uploaded (`POST /v1/strategies`, which loads it in a check
worker) and deployed on the real app under uvicorn on a loopback port, with a data directory
and a VMX_HOME holding the engine's files. The file runs its attack when it is loaded (so the
upload's check worker runs it too: its outcome becomes the class's description) and again in
on_start, logging the outcome: "denied: ..." or "ALLOWED: ...".
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.engine.api.conftest import LiveServer, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.drivers.strategies import sandbox
from velocimex_cli.engine.node import StrategyLimits

CPU_SECONDS = 3
SECRET = "sk-confinement-test-9f1c"  # in the engine's environment, the files, the engine.db path

ATTACK = """
import os, socket, subprocess, resource, threading, time
from decimal import Decimal
from velocimex_cli.strategy import Strategy

HOME = {home!r}
DATA = {data!r}
PORT = {port!r}
ENGINE_PID = {engine_pid!r}
LISTENER = {listener!r}
UNIX_SOCKET = {unix_socket!r}
USER_HOME = {user_home!r}


def _attack():
{body}


def attempt():
    try:
        outcome = _attack()
    except BaseException as exc:
        return "denied: " + type(exc).__name__ + ": " + str(exc)[:120]
    return "ALLOWED: " + repr(outcome)[:160]


RESULT = attempt()


class Attack(Strategy):
    id = {strategy_id!r}
    description = RESULT

    def on_start(self):
        self.ctx.log("at load: " + RESULT)
        self.ctx.log("in on_start: " + attempt())
"""


def indent(body: str) -> str:
    return "\n".join("    " + line for line in body.strip().splitlines())


ATTACKS = {
    "read-engine-db": "return open(os.path.join(DATA, 'engine.db'), 'rb').read(64)",
    "read-credentials": "return open(os.path.join(HOME, 'credentials.toml')).read()",
    "read-engine-json": "return open(os.path.join(HOME, 'engine.json')).read()",
    "list-vmx-home": "return os.listdir(HOME)",
    "list-data-dir": "return os.listdir(DATA)",
    "read-a-data-file": "return open(os.path.join(DATA, 'notes.txt')).read()",
    "read-the-user-home": "return open(os.path.join(USER_HOME, '.netrc')).read()",
    "write-into-the-data-dir": (
        "open(os.path.join(DATA, 'planted.txt'), 'w').write('x')\nreturn 'written'"
    ),
    "write-anywhere": (
        "for d in ('/', '/tmp', '/dev/shm', '/var/tmp', os.getcwd()):\n"
        "    try:\n"
        "        open(os.path.join(d, 'planted.txt'), 'w').write('x')\n"
        "        return 'wrote in ' + d\n"
        "    except OSError:\n"
        "        pass\n"
        "raise PermissionError('nowhere')"
    ),
    "tcp-to-the-engine": (
        "s = socket.create_connection(('127.0.0.1', PORT), timeout=2)\n"
        "s.sendall(b'GET /v1/health HTTP/1.0\\r\\n\\r\\n')\n"
        "return s.recv(100)"
    ),
    "tcp-to-loopback": (
        "s = socket.create_connection(('127.0.0.1', LISTENER), timeout=2)\nreturn 'connected'"
    ),
    "unix-socket": (
        "s = socket.socket(socket.AF_UNIX)\ns.connect(UNIX_SOCKET)\nreturn 'connected'"
    ),
    "subprocess-run": "return subprocess.run(['/bin/echo', 'hi'], capture_output=True).stdout",
    "execv": "os.execv('/bin/true', ['true'])",
    "fork": ("pid = os.fork()\nif pid == 0:\n    time.sleep(30)\n    os._exit(0)\nreturn pid"),
    "posix-spawn": "return os.posix_spawn('/bin/sleep', ['sleep', '30'], {})",
    "raise-memory-soft-limit": (
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (hard, hard))\n"
        "return resource.getrlimit(resource.RLIMIT_AS)"
    ),
    "raise-memory-hard-limit": (
        "inf = resource.RLIM_INFINITY\n"
        "resource.setrlimit(resource.RLIMIT_AS, (inf, inf))\n"
        "return resource.getrlimit(resource.RLIMIT_AS)"
    ),
    "raise-cpu-limit": (
        "inf = resource.RLIM_INFINITY\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (inf, inf))\n"
        "return resource.getrlimit(resource.RLIMIT_CPU)"
    ),
    "environment-secret": (
        "found = {k: v for k, v in os.environ.items() if 'SECRET' in k or 'VMX' in k}\n"
        "if found:\n"
        "    return found\n"
        "raise LookupError('no secret in ' + ','.join(sorted(os.environ)))"
    ),
    "proc-1-environ": "return open('/proc/1/environ', 'rb').read()",
    "proc-engine-environ": "return open('/proc/%d/environ' % ENGINE_PID, 'rb').read()",
    "proc-engine-memory": "return open('/proc/%d/maps' % ENGINE_PID).read(200)",
    "signal-the-engine": "os.kill(ENGINE_PID, 0)\nreturn 'the engine is signalable'",
}


@dataclass
class Engine:
    server: LiveServer
    headers: dict[str, str]
    home: Path
    data: Path
    listener: socket.socket
    unix_socket: Path

    @property
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.headers, timeout=30)

    def source(self, strategy_id: str, body: str) -> str:
        return ATTACK.format(
            home=str(self.home),
            data=str(self.data),
            port=self.server.port,
            engine_pid=os.getpid(),
            listener=self.listener.getsockname()[1],
            unix_socket=str(self.unix_socket),
            user_home=os.environ["HOME"],
            strategy_id=strategy_id,
            body=indent(body),
        )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    problem = sandbox.confinement_problem()
    if problem is not None:
        pytest.skip(f"this kernel cannot confine strategy workers: {problem}")
    root = tmp_path_factory.mktemp("confinement")
    home, data, user_home = root / "home", root / "data", root / "user"
    for directory in (home, data, user_home):
        directory.mkdir()
    (user_home / ".netrc").write_text(f"machine example.com password {SECRET}\n")
    (home / "credentials.toml").write_text(f'[default]\napi_secret = "{SECRET}"\n')
    (home / "engine.json").write_text(f'{{"admin_token": "{SECRET}"}}\n')
    (data / "notes.txt").write_text(SECRET)
    listener = socket.create_server(("127.0.0.1", 0))
    unix_socket = root / "engine.sock"
    unix_listener = socket.socket(socket.AF_UNIX)
    unix_listener.bind(str(unix_socket))
    unix_listener.listen()
    names = ("HOME", "VMX_HOME", "VMX_API_SECRET", "AWS_SECRET")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        HOME=str(user_home), VMX_HOME=str(home), VMX_API_SECRET=SECRET, AWS_SECRET=SECRET
    )
    try:
        limits = StrategyLimits(callback_seconds=5, start_seconds=10, cpu_seconds=CPU_SECONDS)
        app = create_app(settings(data_dir=data, strategy_limits=limits))
        with LiveServer(app) as server:
            headers = auth_headers(
                app.state.runtime.keys, "mallory", permissions="read,trade,strategies"
            )
            yield Engine(server, headers, home, data, listener, unix_socket)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        listener.close()
        unix_listener.close()


def add(engine: Engine, source: str) -> dict[str, object]:
    with engine.client as client:
        added = client.post("/v1/strategies", json={"source": source})
    assert added.status_code == 201, added.text
    return added.json()["data"]


def deploy(
    engine: Engine, strategy_id: str, symbol: str = "MSFT", exchange: str = "NASDAQ"
) -> dict[str, object]:
    with engine.client as client:
        deployed = client.post(
            f"/v1/strategies/{strategy_id}/deploy",
            json={"exchange": exchange, "symbol": symbol, "params": {}},
        )
    assert deployed.status_code == 201, deployed.text
    return deployed.json()["data"]


def logs_of(engine: Engine, deployment_id: str) -> list[str]:
    with engine.client as client:
        body = client.get(f"/v1/strategies/deployments/{deployment_id}/logs").json()["data"]
    return [line["message"] for line in body["logs"]]


def state_of(engine: Engine, deployment_id: str) -> dict[str, object]:
    with engine.client as client:
        return client.get(f"/v1/strategies/deployments/{deployment_id}").json()["data"]


def stop(engine: Engine, deployment_id: str) -> dict[str, object]:
    with engine.client as client:
        return client.post(f"/v1/strategies/deployments/{deployment_id}/stop").json()["data"]


def until(check: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_from_strategy_code_is_denied_at_upload_and_in_deployment(
    engine: Engine, attack: str
) -> None:
    added = add(engine, engine.source(f"attack-{attack}", ATTACKS[attack]))
    assert str(added["description"]).startswith("denied: "), added["description"]
    deployed = deploy(engine, f"attack-{attack}")
    deployment_id = str(deployed["deployment_id"])
    until(lambda: any(line.startswith("in on_start: ") for line in logs_of(engine, deployment_id)))
    outcomes = [
        line for line in logs_of(engine, deployment_id) if line.startswith(("at load", "in on"))
    ]
    assert len(outcomes) == 2 and all(": denied: " in line for line in outcomes), outcomes
    assert all(SECRET not in line for line in logs_of(engine, deployment_id))
    assert not (engine.data / "planted.txt").exists()
    assert stop(engine, deployment_id)["state"] == "stopped"


SPINS = """
import threading
from velocimex_cli.strategy import Strategy


def spin():
    while True:
        pass


class Spins(Strategy):
    id = "spins"

    def on_start(self):
        threading.Thread(target=spin, daemon=True).start()
        self.ctx.log("spinning in a thread; every hook returns at once")
"""


def test_a_thread_spinning_forever_ends_the_deployment_on_cpu_time(engine: Engine) -> None:
    add(engine, SPINS)
    deployment_id = str(deploy(engine, "spins")["deployment_id"])
    until(lambda: state_of(engine, deployment_id)["state"] == "failed", seconds=CPU_SECONDS * 10)
    found = state_of(engine, deployment_id)
    assert "CPU time" in str(found["last_error"]), found
    assert f"{CPU_SECONDS} s" in str(found["last_error"])


OUTLIVES = """
import os, threading, time
from velocimex_cli.strategy import Strategy


def linger():
    while True:
        time.sleep(0.05)


class Outlives(Strategy):
    id = "outlives"

    def on_start(self):
        threading.Thread(target=linger).start()  # not a daemon: it would hold the exit
        try:
            if os.fork() == 0:
                linger()
            self.ctx.log("forked a child")
        except OSError as exc:
            self.ctx.log("no child: " + str(exc))
"""


def session_members(session: int) -> set[int]:
    """The live processes (zombies left out) of a session, read from /proc."""
    members = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[3]) == session:  # state, ppid, pgrp, session
                members.add(int(entry))
    return members


def test_nothing_a_deployment_started_outlives_its_stop(engine: Engine) -> None:
    add(engine, OUTLIVES)
    deployment_id = str(deploy(engine, "outlives")["deployment_id"])
    until(lambda: len(logs_of(engine, deployment_id)) >= 2)
    worker = engine.server.app.state.runtime.deployments._all[deployment_id].worker
    members = session_members(worker.pid)  # the worker leads its own session
    assert worker.pid in members and len(members) >= 1
    assert stop(engine, deployment_id)["state"] == "stopped"
    until(lambda: not session_members(worker.pid), seconds=10)
    for pid in members:
        with contextlib.suppress(FileNotFoundError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            assert state == "Z", f"process {pid} of the deployment is still running"


TRADES = """
from decimal import Decimal
from velocimex_cli.strategy import Param, Strategy


class CrossesOnce(Strategy):
    id = "crosses-once"
    params = {"amount": Param(Decimal, Decimal("1"), min=Decimal("1"))}

    def on_start(self):
        self.done = False

    def on_book(self, book):
        if not self.done and book.ask is not None:
            self.done = True
            order = self.ctx.buy(self.config.amount, book.ask)
            self.ctx.log("bought at " + str(book.ask) + ": " + order.order_id)
"""


def test_a_normal_user_strategy_still_deploys_trades_and_stops(engine: Engine) -> None:
    add(engine, TRADES)
    deployment_id = str(deploy(engine, "crosses-once", symbol="AAPL")["deployment_id"])
    with engine.client as client:  # a book change for the strategy
        ticker = client.get("/v1/markets/NASDAQ/ticker/AAPL").json()["data"]
        bid = Decimal(str(ticker["bid"]))
        placed = client.post(
            "/v1/trading/orders",
            json={"exchange": "NASDAQ", "symbol": "AAPL", "side": "buy", "type": "limit",
                  "quantity": 1, "price": str(bid)},
        )  # fmt: skip
        assert placed.status_code == 201, placed.text
    until(lambda: any("bought at" in line for line in logs_of(engine, deployment_id)))
    assert state_of(engine, deployment_id)["state"] == "running"
    assert int(str(state_of(engine, deployment_id)["fills"])) > 0
    assert stop(engine, deployment_id)["state"] == "stopped"


def test_a_built_in_strategy_deploys_confined_and_stops(engine: Engine) -> None:
    deployed = deploy(engine, "sma-cross", symbol="BTC/USDT", exchange="BINANCE")
    assert deployed["state"] == "running" and "warnings" not in deployed
    assert stop(engine, str(deployed["deployment_id"]))["state"] == "stopped"
