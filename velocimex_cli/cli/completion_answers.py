"""The answers behind shell completion (cli/completers.py): the engine's names, asked with a
short timeout and cached, and matched against what was typed.

A completer:
- never starts the local engine, provisions a key, prompts or prints (Factory.lookup_client);
  anything that goes wrong is simply no candidates;
- asks the engine at most once per kind, giving up after TIMEOUT seconds;
- keeps each answer in the user's cache directory for a short time (TTL), one file per
  profile, API URL (the local profile: its engine, whatever its port) and key, so two
  profiles never mix; 0600 like every file vmx writes; names only, never a key or secret;
  a damaged file is ignored.

A cached answer costs no HTTP client, engine launcher or hash library import (zlib's
checksums name the files: they only need to tell a user's few profiles apart).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import typer

    from velocimex_cli.cli.factory import Factory

TIMEOUT = 0.5  # seconds per request to the engine
TTL = {"markets": 300.0, "strategies": 60.0, "orders": 5.0, "deployments": 5.0}
ORDER_LIMIT = 100  # the most recent orders offered
OPEN_ORDER_STATUSES = ("open", "partially_filled")
LIVE_DEPLOYMENT_STATES = ("running",)
CACHE_VERSION = 1

Candidates = list[tuple[str, str]]  # (value, help)


# ------------------------------------------------------------------ the completers


def _quiet(completer: Callable[[typer.Context, str], Candidates]) -> Callable[..., Candidates]:
    """A completion that fails offers nothing; it never prints or raises."""

    @functools.wraps(completer)
    def quiet(ctx: typer.Context, incomplete: str) -> Candidates:
        try:
            return completer(ctx, incomplete)
        except Exception:
            return []

    return quiet


@_quiet
def exchanges(ctx: typer.Context, incomplete: str) -> Candidates:
    """Exchange names (book/ticker/watch/order place EXCHANGE, --exchange/-e)."""
    seen: dict[str, int] = {}
    for exchange, _symbol, _help in _items(ctx, "markets"):
        seen[exchange] = seen.get(exchange, 0) + 1
    return _matching(
        [(name, f"{count} symbols") for name, count in sorted(seen.items())], incomplete
    )


@_quiet
def symbols(ctx: typer.Context, incomplete: str) -> Candidates:
    """Symbols of the exchange already typed (its `exchange` parameter), else of every one."""
    exchange = _typed(ctx, "exchange")
    wanted = exchange.strip().upper() if isinstance(exchange, str) else None
    found: dict[str, str] = {}
    for market_exchange, symbol, description in _items(ctx, "markets"):
        if wanted is None or market_exchange == wanted:
            found.setdefault(symbol, description or market_exchange)
    return _matching(sorted(found.items()), incomplete, symbol_like=True)


@_quiet
def instruments(ctx: typer.Context, incomplete: str) -> Candidates:
    """EXCHANGE:SYMBOL (vmx stream market). Bash splits a word at ':' (COMP_WORDBREAKS), so
    it asks for 'BT' after the words 'BINANCE' ':' and replaces only that part: it gets the
    symbols alone then (and ':SYMBOL' when the word it replaces is the ':' itself)."""
    typed = ctx.params.get("instruments") or []
    markets = _items(ctx, "markets")
    if incomplete == ":" and typed:
        exchange, prefix, lead = typed[-1], "", ":"
    elif typed[-1:] == [":"] and len(typed) >= 2:
        exchange, prefix, lead = typed[-2], incomplete, ""
    else:
        pairs = [(f"{ex}:{symbol}", description or ex) for ex, symbol, description in markets]
        return _matching(pairs, incomplete, symbol_like=True)
    wanted = exchange.strip().upper()
    symbols = [(symbol, description) for ex, symbol, description in markets if ex == wanted]
    return [(lead + value, help) for value, help in _matching(symbols, prefix, symbol_like=True)]


@_quiet
def order_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Recent order ids, newest first (vmx order show)."""
    return _matching(
        [(oid, summary) for oid, summary, _status in _items(ctx, "orders")], incomplete
    )


@_quiet
def open_order_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of orders still open (vmx order cancel)."""
    items = _items(ctx, "orders")
    return _matching(
        [(oid, summary) for oid, summary, status in items if status in OPEN_ORDER_STATUSES],
        incomplete,
    )


@_quiet
def strategy_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Strategy ids (vmx strategy show|deploy)."""
    return _matching([(sid, name) for sid, name, _kind in _items(ctx, "strategies")], incomplete)


@_quiet
def user_strategy_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of strategies added with `vmx strategy add`, the ones that can be removed."""
    items = _items(ctx, "strategies")
    return _matching([(sid, name) for sid, name, kind in items if kind == "user"], incomplete)


@_quiet
def strategies_and_files(ctx: typer.Context, incomplete: str) -> Candidates:
    """Strategy ids and .py files, with directories to descend into (vmx backtest)."""
    return strategy_ids(ctx, incomplete) + _python_files(incomplete)


@_quiet
def deployment_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Deployment ids (vmx strategy status|logs)."""
    return _matching([(did, what) for did, what, _state in _items(ctx, "deployments")], incomplete)


@_quiet
def live_deployment_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of deployments that can still be stopped (vmx strategy stop)."""
    items = _items(ctx, "deployments")
    return _matching(
        [(did, what) for did, what, state in items if state in LIVE_DEPLOYMENT_STATES],
        incomplete,
    )


# ------------------------------------------------------------------ matching


def _matching(candidates: Candidates, incomplete: str, *, symbol_like: bool = False) -> Candidates:
    """The candidates that start with what was typed, case aside (and, for symbols, '-' read
    as '/', as the commands read them). The shell keeps only candidates that start with the
    very text typed, so a candidate matched that way is offered as typed: 'bin' gives
    'binance', 'btc-' gives 'btc-usdt', 'Bi' gives 'BiNANCE' (the commands take any
    spelling)."""
    typed = incomplete or ""
    wanted = typed.upper().replace("-", "/") if symbol_like else typed.upper()
    found: Candidates = []
    for value, help in candidates:
        if value.startswith(typed):
            found.append((value, help))
        elif value.upper().startswith(wanted):
            rest = value[len(typed) :]
            if symbol_like and "-" in typed:
                rest = rest.replace("/", "-")
            found.append((typed + (rest.lower() if typed.lower() == typed else rest), help))
    return found


def _python_files(incomplete: str) -> Candidates:
    import os

    directory, _, start = incomplete.rpartition("/")
    base = os.path.expanduser(directory) if directory else "."
    if directory == "" and incomplete.startswith("/"):
        base = "/"
    lead = f"{directory}/" if directory or incomplete.startswith("/") else ""
    found: Candidates = []
    try:
        with os.scandir(base) as entries:
            for entry in entries:
                if not entry.name.startswith(start) or (
                    entry.name.startswith(".") and not start.startswith(".")
                ):
                    continue
                if entry.is_dir():
                    found.append((f"{lead}{entry.name}/", "directory"))
                elif entry.name.endswith(".py"):
                    found.append((f"{lead}{entry.name}", "strategy file"))
    except OSError:
        return []
    return sorted(found)


def _typed(ctx: typer.Context, name: str) -> Any:
    """A parameter's value already on the command line (click parses them before asking)."""
    value = ctx.params.get(name)
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


# ------------------------------------------------------------------ answers, cached


def _items(ctx: typer.Context, kind: str) -> list[tuple[str, str, str]]:
    """The kind's names as (value, help, extra) triples: cached if fresh, else asked of the
    engine (and cached); nothing at all when anything goes wrong."""
    try:
        factory = _factory(ctx)
        profile = factory.lookup_profile()
        if profile is None:
            return []
        path = _cache_file(profile.name, profile.api_url, str(profile.api_key), kind)
        cached = _read_cache(path, TTL[kind])
        if cached is not None:
            return cached
        fresh = _fetch(factory, kind)
        if fresh is None:
            return []
        _write_cache(path, fresh)
        return fresh
    except Exception:  # a completion that fails offers nothing; it never prints
        return []


def _factory(ctx: typer.Context) -> Factory:
    """The command's factory, told the root's --profile/--api-url/--ca-cert (completion
    parses them but runs no callback)."""
    from velocimex_cli.cli.execution import factory_of

    root = ctx.find_root()
    factory = factory_of(ctx)
    factory.flag_profile = root.params.get("profile")
    factory.flag_api_url = root.params.get("api_url")
    factory.flag_ca_cert = root.params.get("ca_cert")
    factory.verbose = False
    return factory


def _fetch(factory: Factory, kind: str) -> list[tuple[str, str, str]] | None:
    client = factory.lookup_client(TIMEOUT)
    if client is None:
        return None
    with client:
        if kind == "markets":
            return [
                (str(m["exchange"]), str(m["symbol"]), _market_help(m))
                for m in client.markets().get("markets") or []
            ]
        if kind == "orders":
            page = client.list_orders("all", limit=ORDER_LIMIT)
            return [
                (str(o["order_id"]), _order_help(o), str(o.get("status", "")))
                for o in page.get("orders") or []
            ]
        if kind == "strategies":
            return [
                (str(s["strategy_id"]), str(s.get("name") or ""), str(s.get("kind", "")))
                for s in client.strategies().get("strategies") or []
            ]
        if kind == "deployments":
            return [
                (str(d["deployment_id"]), _deployment_help(d), str(d.get("state", "")))
                for d in client.deployments().get("deployments") or []
            ]
    return None


def _market_help(market: dict[str, Any]) -> str:
    kind = market.get("asset_class") or market.get("type") or ""
    return f"{market['exchange']} {kind}".strip()


def _order_help(order: dict[str, Any]) -> str:
    words = [order.get(k) for k in ("side", "quantity", "symbol", "status")]
    price = order.get("price")
    text = " ".join(str(w) for w in words if w is not None)
    return f"{text} @ {price}" if price is not None else text


def _deployment_help(deployment: dict[str, Any]) -> str:
    words = [deployment.get(k) for k in ("strategy_id", "exchange", "symbol", "state")]
    return " ".join(str(w) for w in words if w is not None)


def _cache_file(profile: str, api_url: str | None, api_key: str, kind: str) -> Path:
    """One file per profile, API (None: the local profile's engine) and key, named by two
    checksums of them: the name says nothing of the key."""
    import zlib

    from velocimex_cli import paths

    api = "local engine" if api_url is None else api_url.rstrip("/")
    identity = "\n".join((profile, api, api_key)).encode("utf-8")
    name = f"{zlib.crc32(identity):08x}{zlib.adler32(identity):08x}-{kind}.json"
    return paths.cache_dir() / "completion" / name


def _read_cache(path: Path, ttl: float) -> list[tuple[str, str, str]] | None:
    """The cached items if the file is fresh and well formed; None otherwise."""
    import json
    import time

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        age = time.time() - float(raw["fetched_at"])
        if raw.get("version") != CACHE_VERSION or not 0 <= age <= ttl:
            return None
        items = [tuple(item) for item in raw["items"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(len(item) == 3 and all(isinstance(x, str) for x in item) for item in items):
        return None
    return items


def _write_cache(path: Path, items: list[tuple[str, str, str]]) -> None:
    import json
    import time

    from velocimex_cli import paths

    document = {"version": CACHE_VERSION, "fetched_at": time.time(), "items": items}
    paths.write_private(path, json.dumps(document))
