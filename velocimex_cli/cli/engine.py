"""`vmx engine ...`: run the embedded exchange engine and manage its API keys.

Module-level imports stay light (typer only): the CLI root imports this at start-up. Heavy
pieces (uvicorn, fastapi, the engine) are imported inside the commands that need them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="engine",
    help="Run the embedded Velocimex exchange engine (serve, start, stop, status, logs, keys).",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    name="keys",
    help="Manage the engine's API keys (works whether or not the server runs).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

DEFAULT_PORT = 7878

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Engine data directory (holds engine.db). Default: the vmx data directory.",
        show_default=False,
    ),
]


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _data_dir(data_dir: Path | None) -> Path:
    from velocimex_cli import paths

    return (data_dir or paths.engine_data_dir()).expanduser().resolve()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless told otherwise.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = DEFAULT_PORT,
    data_dir: DataDirOption = None,
    in_memory: Annotated[
        bool, typer.Option("--in-memory", help="Keep nothing on disk (state is lost on exit).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the market simulator.")] = 42,
    always_open: Annotated[
        bool, typer.Option("--always-open", help="Treat every venue as open (ignore hours).")
    ] = False,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn REST rate limiting off.")
    ] = False,
    no_simulate: Annotated[
        bool, typer.Option("--no-simulate", help="Do not run the market simulator.")
    ] = False,
) -> None:
    """Run the engine's API server in the foreground (Ctrl-C stops it)."""
    from velocimex_cli.engine.api.server import data_dir_or_none, run
    from velocimex_cli.engine.api.settings import ServerSettings

    if not 0 <= port <= 65535:
        _err(f"vmx engine serve: --port must be 0-65535, not {port}")
        raise typer.Exit(2)
    settings = ServerSettings(
        data_dir=data_dir_or_none(data_dir, in_memory),
        seed=seed,
        always_open=always_open,
        rate_limit=not no_rate_limit,
        simulate=not no_simulate,
    )
    raise typer.Exit(run(settings, host, port))


@app.command()
def start(
    data_dir: DataDirOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the market simulator.")] = 42,
    always_open: Annotated[bool, typer.Option("--always-open")] = False,
    no_rate_limit: Annotated[bool, typer.Option("--no-rate-limit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Start the engine in the background (or report the one already running)."""
    from velocimex_cli.engine import launcher

    running = launcher.status()
    if running is not None and launcher.healthy(running.url):
        _print_status(running, as_json, prefix="Engine already running")
        return
    extra = ["--seed", str(seed)]
    if always_open:
        extra.append("--always-open")
    if no_rate_limit:
        extra.append("--no-rate-limit")
    try:
        started = launcher.ensure_running(_data_dir(data_dir), extra)
    except launcher.EngineStartError as exc:
        _err(f"vmx engine start: {exc}")
        raise typer.Exit(1) from None
    _print_status(started, as_json, prefix="Engine started")


@app.command()
def stop(
    timeout: Annotated[float, typer.Option(help="Seconds to wait before killing it.")] = 10.0,
) -> None:
    """Stop the background engine gracefully."""
    from velocimex_cli.engine import launcher

    running = launcher.status()
    if running is None:
        _err("Engine is not running.")
        return
    launcher.stop(timeout)
    _err(f"Engine stopped (was pid {running.pid} at {running.url}).")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Say whether the engine runs, where, since when and with which data directory."""
    from velocimex_cli.engine import launcher

    running = launcher.status()
    if running is None:
        if as_json:
            sys.stdout.write(json.dumps({"running": False}) + "\n")
        else:
            _err("Engine is not running. Start it with `vmx engine start`.")
        raise typer.Exit(1)
    _print_status(running, as_json, prefix="Engine running")


def _print_status(status: object, as_json: bool, prefix: str) -> None:
    from velocimex_cli.engine.launcher import EngineStatus

    assert isinstance(status, EngineStatus)
    _err(f"{prefix}.")
    if as_json:
        sys.stdout.write(json.dumps({"running": True, **status.to_dict()}) + "\n")
        return
    rows = [
        ("url", status.url),
        ("pid", str(status.pid)),
        ("since", status.started_at),
        ("data dir", status.data_dir or "(in memory)"),
        ("log", status.log_file),
    ]
    for label, value in rows:
        sys.stdout.write(f"{label + ':':<10} {value}\n")


@app.command()
def logs(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show first.")] = 50,
) -> None:
    """Show the background engine's log."""
    from velocimex_cli.engine import launcher

    path = launcher.log_file()
    if not path.exists():
        _err(f"No engine log yet ({path}). Start the engine with `vmx engine start`.")
        raise typer.Exit(1)
    with open(path, encoding="utf-8", errors="replace") as handle:
        tail = handle.readlines()[-lines:] if lines > 0 else []
        sys.stdout.writelines(tail)
        sys.stdout.flush()
        if not follow:
            return
        try:
            while True:
                line = handle.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return


@keys_app.command("create")
def keys_create(
    data_dir: DataDirOption = None,
    account: Annotated[str, typer.Option(help="Account the key trades for.")] = "local",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    permissions: Annotated[str, typer.Option(help="Comma-separated: read, trade.")] = "read,trade",
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="Allow only this address or CIDR block (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the key as JSON.")] = False,
) -> None:
    """Create an API key; its secret is shown once, now."""
    from velocimex_cli.engine.keys import KeyStore
    from velocimex_cli.wire.errors import ApiError

    store = KeyStore.open(_data_dir(data_dir))
    try:
        created = store.create(account, name, permissions, ip or ())
    except ApiError as exc:
        _err(f"vmx engine keys create: {exc.message}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    info = created.info
    if as_json:
        payload = {
            "api_key": info.api_key,
            "api_secret": created.api_secret,
            "account": info.account,
            "permissions": list(info.permissions),
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    sys.stdout.write(f"api_key:    {info.api_key}\napi_secret: {created.api_secret}\n")
    _err(
        f"Key for account {info.account!r} ({', '.join(info.permissions)}). The secret is shown"
        " only now: store it safely (e.g. `vmx auth login`). A new account is opened with"
        " sandbox funds on the key's first use."
    )


@keys_app.command("list")
def keys_list(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON.")] = False,
) -> None:
    """List API keys (never their secrets)."""
    from velocimex_cli.engine.keys import KeyStore

    store = KeyStore.open(_data_dir(data_dir))
    try:
        infos = store.list()
    finally:
        store.close()
    if as_json:
        sys.stdout.write(json.dumps({"keys": [info.to_wire() for info in infos]}) + "\n")
        return
    if not infos:
        _err("No API keys. Create one with `vmx engine keys create`.")
        return
    for info in infos:
        state = "active" if info.active else f"revoked {info.revoked_at}"
        allow = ",".join(info.ip_allow) or "any IP"
        sys.stdout.write(
            f"{info.api_key}  {info.account:<12} {info.name:<12} {','.join(info.permissions):<11}"
            f" {allow:<16} {info.created_at}  {state}\n"
        )


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The API key to revoke.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an API key; a running server refuses it at once."""
    from velocimex_cli.engine.keys import KeyStore

    store = KeyStore.open(_data_dir(data_dir))
    try:
        existing = store.get(key)
        revoked = store.revoke(key)
    finally:
        store.close()
    if existing is None:
        _err(f"vmx engine keys revoke: no key {key!r}; see `vmx engine keys list`")
        raise typer.Exit(7)
    if not revoked:
        _err(f"Key {key} was already revoked.")
        return
    _err(f"Key {key} revoked.")


if __name__ == "__main__":
    app()
