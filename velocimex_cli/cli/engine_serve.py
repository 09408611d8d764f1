"""`vmx engine serve`: the engine's API server in the foreground, its --mirror and TLS choices
checked before anything binds or opens (exit 2 on a mistake)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.api.exposure import TlsFiles
    from velocimex_cli.local.mirrors import MirrorChoice


@dataclass
class ServeOptions:
    host: str
    port: int
    data_dir: Path | None
    in_memory: bool
    seed: int
    always_open: bool
    rate_limit: bool
    simulate: bool
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    accept_data_loss: bool = False
    mirror: list[str] = field(default_factory=list)
    venue_config: Path | None = None


def mirror_choice(mirror: list[str], venue_config: Path | None) -> MirrorChoice:
    """`--mirror`/`--venue-config` checked before anything starts: exit 2 with the reason
    (a malformed value, an unreadable config, ccxt not installed)."""
    from velocimex_cli.local import mirrors

    try:
        return mirrors.choose(mirror, venue_config)
    except mirrors.MirrorSpecError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.USAGE, code="MIRROR_SPEC") from None


def _serving_tls(factory: Factory, opts: ServeOptions) -> TlsFiles | None:
    """The certificate and key to serve, checked; refuses plain HTTP beyond loopback unless
    --insecure-http says so. All before anything binds or opens (exit 2 on a mistake)."""
    from velocimex_cli.engine.api import exposure

    if (opts.tls_cert is None) != (opts.tls_key is None):
        pair = ("--tls-cert", "--tls-key")
        given, missing = pair if opts.tls_cert else pair[::-1]
        raise CommandError(
            f"{given} needs {missing} too: TLS takes the certificate and its private key",
            exit_code=ExitCode.USAGE,
        )
    if opts.tls_cert is not None and opts.insecure_http:
        raise CommandError(
            "--insecure-http and --tls-cert contradict each other: drop --insecure-http to"
            " serve TLS, or the TLS options to serve plain HTTP",
            exit_code=ExitCode.USAGE,
        )
    if opts.tls_cert is None:
        if not opts.insecure_http and not exposure.is_loopback_host(opts.host):
            raise CommandError(
                f"--host {opts.host} is reachable from the network, and every request carries"
                " an API key and its secret: serve it over TLS with --tls-cert FILE --tls-key"
                " FILE, or pass --insecure-http to serve plain HTTP anyway (anyone on the path"
                " can read and replay the keys)",
                exit_code=ExitCode.USAGE,
                code="TLS_REQUIRED",
            )
        return None
    assert opts.tls_key is not None
    try:
        tls = exposure.check_tls_files(opts.tls_cert, opts.tls_key)
    except exposure.TlsFileError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.USAGE, code="TLS_FILE") from None
    warning = exposure.key_file_warning(tls.key)
    if warning is not None:
        factory.io.status(f"vmx engine: {warning}")
    return tls


def run_serve(factory: Factory, opts: ServeOptions) -> int | None:
    from velocimex_cli import paths

    if not 0 <= opts.port <= 65535:
        raise CommandError(f"--port must be 0-65535, not {opts.port}")
    if opts.in_memory and opts.data_dir is not None:
        raise CommandError("--in-memory keeps nothing on disk: drop --data-dir or --in-memory")
    tls = _serving_tls(factory, opts)
    choice = mirror_choice(opts.mirror, opts.venue_config)
    from velocimex_cli.secret_env import scrub_secret_env

    scrub_secret_env()  # nothing the engine runs or starts later sees them (secret_env.py)
    paths.restrict_umask()
    from velocimex_cli.engine.api.server import data_dir_or_none, run
    from velocimex_cli.engine.api.settings import ServerSettings

    settings = ServerSettings(
        data_dir=data_dir_or_none(opts.data_dir, opts.in_memory),
        seed=opts.seed,
        always_open=opts.always_open,
        rate_limit=opts.rate_limit,
        simulate=opts.simulate,
        accept_data_loss=opts.accept_data_loss,
        mirrors=choice.mirrors,
        venue_config=choice.venue_config,
    )
    return run(settings, opts.host, opts.port, tls)
