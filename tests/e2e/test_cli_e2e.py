"""The installed `vmx` as real subprocesses with VMX_HOME in a temp dir, over real sockets.

One background engine per module, started by the first command that needs it (the embedded
default), stopped at the end. Every output is kept and scanned for the secret at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import IMPORT_PROBE, VMX

pytestmark = pytest.mark.e2e

OUTPUTS: list[str] = []

# Runs vmx in-process and then lists the modules it imported (on the last stderr line).
NEVER_FOR_REST = (
    "uvicorn",
    "websockets",
    "starlette",
    "velocimex_cli.engine.api",
    "velocimex_cli.engine.core",
    "velocimex_cli.engine.store",
    "velocimex_cli.engine.drivers.simulator",
    "velocimex_cli.engine.node",
    "rich.live",
    "pydantic",  # Typer would coerce parameters with it; vmx's plain coercion avoids it
)
# Listing orders needs the REST client, the profile and the JSON writer; not the other verbs
# (placing, cancelling, watching), the order builder's id generator, CSV or the stream client.
NEVER_FOR_ORDER_LIST = (
    "csv",
    "secrets",
    "velocimex_cli.cli.order_placing",
    "velocimex_cli.cli.order_batch",
    "velocimex_cli.cli.order_cancelling",
    "velocimex_cli.cli.order_watch",
    "velocimex_cli.client.orders",
    "velocimex_cli.wire.orders",
    "velocimex_cli.client.asynchronous",
    "velocimex_cli.client.streams",
    "velocimex_cli.local.keys",
    "velocimex_cli.local.mirrors",
)
# `vmx --help` reads no configuration and coerces no number.
NEVER_FOR_HELP = (
    "httpx",
    "tomllib",
    "decimal",
    "velocimex_cli.config",
    "velocimex_cli.wire.numbers",
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("vmx-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.pop("FORCE_COLOR", None)
    env["VMX_HOME"] = str(root / "home")
    yield env
    subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)


def vmx(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*VMX, *args], env=env, capture_output=True, text=True, input=input, timeout=60
    )
    OUTPUTS.extend([result.stdout, result.stderr])
    return result


def test_first_command_starts_the_engine_and_provisions_the_local_key(
    home: dict[str, str],
) -> None:
    first = vmx(home, "order", "list", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"orders": [], "total": 0, "next_before": None}
    assert "Starting the local engine" in first.stderr
    assert "Provisioned an API key for the local profile" in first.stderr
    second = vmx(home, "order", "list", "--json")
    assert second.returncode == 0 and second.stderr == ""
    creds = Path(home["VMX_HOME"]) / "config" / "credentials" / "credentials.toml"
    assert oct(creds.stat().st_mode & 0o777) == "0o600"


def test_trade_from_the_shell(home: dict[str, str]) -> None:
    placed = vmx(home, "buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--json")
    assert placed.returncode == 0, placed.stderr
    order = json.loads(placed.stdout)
    assert order["status"] == "open"
    listed = json.loads(vmx(home, "order", "list", "--json").stdout)["orders"]
    assert [o["order_id"] for o in listed] == [order["order_id"]]
    negative = vmx(home, "buy", "BINANCE", "BTC/USDT", "-1", "--price", "100")
    assert negative.returncode == 2 and "quantity" in negative.stderr
    big = vmx(home, "buy", "BINANCE", "BTC/USDT", "1", "--price", "20000")
    assert big.returncode == 2 and "--yes" in big.stderr  # stdin is not a terminal
    batch = vmx(
        home,
        "order",
        "place",
        "--file",
        "-",
        input='{"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": 0.01,'
        ' "price": 1001, "type": "limit"}\nnot json\n',
    )
    assert batch.returncode == 2
    assert batch.stdout.splitlines()[1].startswith("line 2: error INVALID_PARAMETER")
    canceled = vmx(home, "order", "cancel", "--all", "--json")
    assert len(json.loads(canceled.stdout)["orders"]) == 2
    verbose = vmx(home, "--verbose", "account", "balance", "--json")
    assert verbose.returncode == 0 and "x-api-secret: ****" in verbose.stderr.lower()


def test_unreachable_and_missing_credentials_exit_codes(home: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**home, "VMX_API_KEY": "k", "VMX_API_SECRET": "s"}
    down = vmx(env, "--api-url", f"http://127.0.0.1:{port}", "markets", "status")
    assert down.returncode == 9 and "cannot reach the API" in down.stderr
    missing = vmx(home, "--profile", "prod", "--api-url", "http://127.0.0.1:1", "order", "list")
    assert missing.returncode == 3


def test_a_stale_local_key_is_replaced_by_a_fresh_one(home: dict[str, str]) -> None:
    # Self-sufficient: under xdist this test may run on a worker where no other test of the
    # module provisioned the local key.
    assert vmx(home, "order", "list").returncode == 0
    creds = Path(home["VMX_HOME"]) / "config" / "credentials" / "credentials.toml"
    text = creds.read_text()
    stale = "\n".join(
        'api_secret = "stale-secret-from-an-old-engine"' if line.startswith("api_secret") else line
        for line in text.splitlines()
    )
    creds.write_text(stale + "\n")
    result = vmx(home, "order", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert "Provisioned an API key for the local profile" in result.stderr
    assert "stale-secret-from-an-old-engine" not in creds.read_text()


def modules_imported(env: dict[str, str], *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    OUTPUTS.extend([result.stdout, result.stderr])
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("MODULES ")
    return set(json.loads(line.removeprefix("MODULES ")))


def test_help_and_rest_commands_import_nothing_heavy(home: dict[str, str]) -> None:
    vmx(home, "order", "list")  # the engine is running and the key provisioned
    for args in (("--help",), ("order", "list", "--json"), ("order", "list")):
        modules = modules_imported(home, *args)
        heavy = sorted(m for m in modules if m.split(".")[0] in NEVER_FOR_REST or any(
            m == banned or m.startswith(banned + ".") for banned in NEVER_FOR_REST
        ))  # fmt: skip
        assert heavy == [], f"vmx {' '.join(args)} imported {heavy}"
    json_modules = modules_imported(home, "order", "list", "--json")
    assert not any(m == "rich" or m.startswith("rich.") for m in json_modules)
    assert sorted(json_modules & set(NEVER_FOR_ORDER_LIST)) == []
    help_modules = modules_imported(home, "--help")
    assert sorted(help_modules & set(NEVER_FOR_HELP)) == []


GC_PROBE = """
import gc, sys
sys.argv = ["vmx", *sys.argv[1:]]
from velocimex_cli.main import main
try:
    main()
except SystemExit:
    pass
full = gc.get_stats()[2]["collections"]
sys.stderr.write(f"\\nGC {gc.isenabled()} {full}\\n")
"""


def garbage_collection_after(env: dict[str, str], *args: str) -> tuple[bool, int]:
    """Whether collection was on when `vmx ARGS` ended, and how many full collections ran."""
    result = subprocess.run(
        [sys.executable, "-c", GC_PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    OUTPUTS.extend([result.stdout, result.stderr])
    _, enabled, full = result.stderr.strip().splitlines()[-1].split()
    return enabled == "True", int(full)


def test_garbage_collection_is_off_while_vmx_starts_and_on_for_the_command(
    home: dict[str, str],
) -> None:
    vmx(home, "order", "list")  # the engine is running and the key provisioned
    assert garbage_collection_after(home, "--help") == (False, 0)  # nothing ran: never turned on
    enabled, _ = garbage_collection_after(home, "order", "list", "--json")
    assert enabled  # a command runs with the collector on (a long one must not gather cycles)


def test_the_secret_never_appears_in_output_logs_or_files(home: dict[str, str]) -> None:
    assert vmx(home, "order", "list").returncode == 0  # the local key exists (see above)
    root = Path(home["VMX_HOME"])
    creds = root / "config" / "credentials" / "credentials.toml"
    secret = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in creds.read_text().splitlines()
        if line.startswith("api_secret")
    )
    assert len(secret) >= 16
    vmx(home, "auth", "status")
    vmx(home, "--verbose", "order", "show", "nope")
    vmx(home, "engine", "logs")
    assert OUTPUTS and not [o for o in OUTPUTS if secret in o]
    for path in root.rglob("*"):
        if path.is_file() and path != creds and not path.name.startswith("engine.db"):
            assert secret not in path.read_text(errors="replace"), path
    assert shutil.which  # keep shutil imported for tools probing the PATH
