"""Parameter sweeps: a grid of backtests, run on local processes or a Dask cluster, cached.

A sweep is a list of `RunSpec`s (one per point of the grid, in a fixed order). Each run is a pure
function of its spec, so the results do not depend on where or in which order they ran: one
process, N processes or a Dask cluster give the same reports. Results are cached on disk by the
hash of everything a run depends on (data, strategy source, parameters, seed, options, vmx
version): rerunning a sweep computes only what is missing.

A sweep always finishes: a run whose parameters the strategy refuses (`fast >= slow`) is a
`skipped` row with the strategy's message, a run that raises or whose worker process dies is a
`failed` row with the reason, and the other runs go on. Neither is cached.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from velocimex_cli import __version__
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import ApiError, InvalidParameter, Unreachable
from velocimex_cli.wire.numbers import parse_decimal

MAX_GRID = 10_000
CLUSTER_CONNECT_SECONDS = 5  # --cluster that does not answer within this is unreachable
# Options that say where inputs are, not what they are (their hashes are in the key instead).
LOCATORS = ("data", "source")


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class RunSpec:
    """Everything one backtest run depends on. `key` is its cache key: the hash of the vmx
    version, the strategy (id and source hash), the parameters, the options and the data hash."""

    strategy_id: str
    strategy_source_hash: str
    params: dict[str, Any]
    options: dict[str, Any]
    data_hash: str
    key: str = field(default="", compare=False)


def _number(text: str, spec: str) -> Decimal:
    value = parse_decimal(text)
    if value is None:
        raise InvalidParameter(
            "sweep", spec, f"{text!r} in --sweep {spec} is not a number; write NAME=START:STOP:STEP"
        )
    return value


def parse_axis(spec: str) -> Axis:
    """`fast=5:30:5` (inclusive of STOP when it falls on the grid), or `mode=a,b,c` for a list."""
    name, sep, body = spec.partition("=")
    name = name.strip()
    if not sep or not name or not body:
        raise InvalidParameter(
            "sweep", spec, f"--sweep {spec!r} is not NAME=START:STOP:STEP or NAME=V1,V2,..."
        )
    if ":" not in body:
        values = tuple(v.strip() for v in body.split(",") if v.strip())
        if not values:
            raise InvalidParameter("sweep", spec, f"--sweep {spec} lists no value")
        return Axis(name, values)
    parts = body.split(":")
    if len(parts) != 3:
        raise InvalidParameter(
            "sweep", spec, f"--sweep {spec} needs START:STOP:STEP (three numbers), e.g. fast=5:30:5"
        )
    start, stop, step = (_number(p.strip(), spec) for p in parts)
    if step <= 0:
        raise InvalidParameter("sweep", spec, f"--sweep {spec}: STEP must be greater than zero")
    if stop < start:
        raise InvalidParameter(
            "sweep", spec, f"--sweep {spec} is an empty range: STOP {stop} is below START {start}"
        )
    count = int((stop - start) / step) + 1
    if count > MAX_GRID:
        raise InvalidParameter(
            "sweep", spec, f"--sweep {spec} has {count} values; at most {MAX_GRID}"
        )
    integral = all(v == v.to_integral_value() for v in (start, step))
    steps = tuple(int(start + step * i) if integral else start + step * i for i in range(count))
    return Axis(name, steps)


def grid(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    names = [axis.name for axis in axes]
    if len(set(names)) != len(names):
        raise InvalidParameter("sweep", ",".join(names), "each parameter can be swept only once")
    points = [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]
    if len(points) > MAX_GRID:
        raise InvalidParameter(
            "sweep", len(points), f"the grid has {len(points)} runs; at most {MAX_GRID}"
        )
    return points


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def spec_key(spec: RunSpec) -> str:
    payload = jsonfmt.canonical(
        {
            "version": __version__,
            "strategy": spec.strategy_id,
            "source": spec.strategy_source_hash,
            "params": spec.params,
            "options": {k: v for k, v in spec.options.items() if k not in LOCATORS},
            "data": spec.data_hash,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def with_key(spec: RunSpec) -> RunSpec:
    return RunSpec(
        spec.strategy_id,
        spec.strategy_source_hash,
        spec.params,
        spec.options,
        spec.data_hash,
        spec_key(spec),
    )


class ResultCache:
    """One JSON file per run under `root`, named by the run's key; written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.root / f"{key}.json"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            value = jsonfmt.loads(text)
        except (ValueError, json.JSONDecodeError):
            return None  # a torn or foreign file is recomputed, never trusted
        return value if isinstance(value, dict) else None

    def put(self, key: str, report: dict[str, Any]) -> None:
        from velocimex_cli.paths import write_private

        write_private(self.root / f"{key}.json", jsonfmt.canonical(report))


Runner = Callable[[RunSpec], dict[str, Any]]


def outcome(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    """The row of a run that did not give a report: the strategy refused its parameters
    (skipped), or it failed (the reason, never a traceback)."""
    if isinstance(exc, ApiError):
        return {"params": spec.params, "skipped": exc.message}
    if isinstance(exc, BrokenProcessPool):
        reason = "its worker process died (killed, or out of memory)"
    else:
        reason = f"{type(exc).__name__}: {exc}"[:500]
    return {"params": spec.params, "failed": reason}


def _guarded(runner: Runner, spec: RunSpec) -> dict[str, Any]:
    try:
        return runner(spec)
    except Exception as exc:
        return outcome(spec, exc)


def run_local(
    runner: Runner, specs: Sequence[RunSpec], workers: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, report or outcome row) as each run finishes, on `workers` processes (in this
    process for 1). A worker that dies breaks its pool: the runs it took down are run again one
    at a time in a fresh process, so only the run that kills its worker is reported failed."""
    if workers <= 1 or len(specs) <= 1:
        for index, spec in enumerate(specs):
            yield index, _guarded(runner, spec)
        return
    suspects: list[int] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(specs))) as pool:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(runner, spec): index for index, spec in enumerate(specs)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    yield index, future.result()
                except BrokenProcessPool:
                    suspects.append(index)
                except Exception as exc:
                    yield index, outcome(specs[index], exc)
    for index in sorted(suspects):
        with ProcessPoolExecutor(max_workers=1) as alone:
            try:
                yield index, alone.submit(runner, specs[index]).result()
            except Exception as exc:
                yield index, outcome(specs[index], exc)


def run_dask(
    runner: Runner, specs: Sequence[RunSpec], address: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The same runs on a `dask.distributed` scheduler at `address` (tcp://HOST:8786)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise InvalidParameter(
            "cluster",
            address,
            "--cluster needs dask.distributed: pip install 'velocimex-cli[cluster]'",
        ) from exc
    try:
        client = Client(address, set_as_default=False, timeout=CLUSTER_CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise Unreachable(
            address,
            f"no Dask scheduler answered within {CLUSTER_CONNECT_SECONDS} s ({exc})",
            "check the address (tcp://HOST:8786) and that `dask scheduler` runs there, "
            "or drop --cluster to run on this machine",
            server="the Dask scheduler",
        ) from None
    with client:
        futures = client.map(runner, list(specs), pure=False)
        for index, future in enumerate(futures):  # in order: progress as the grid completes
            try:
                yield index, future.result()
            except Exception as exc:
                yield index, outcome(specs[index], exc)


def sweep(
    runner: Runner,
    specs: Iterable[RunSpec],
    cache: ResultCache | None,
    *,
    workers: int = 1,
    cluster: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every spec not in the cache; return the reports in the specs' order.

    `progress(done, total, cached)` is called after each result.
    """
    keyed = [spec if spec.key else with_key(spec) for spec in specs]
    results: list[dict[str, Any] | None] = [None] * len(keyed)
    missing: list[int] = []
    for index, spec in enumerate(keyed):
        hit = cache.get(spec.key) if cache is not None else None
        if hit is not None:
            results[index] = hit
        else:
            missing.append(index)
    cached = len(keyed) - len(missing)
    done = cached
    if progress is not None:
        progress(done, len(keyed), cached)
    todo = [keyed[i] for i in missing]
    stream = run_dask(runner, todo, cluster) if cluster else run_local(runner, todo, workers)
    for position, report in stream:
        index = missing[position]
        results[index] = report
        if cache is not None and "metrics" in report:
            cache.put(keyed[index].key, report)
        done += 1
        if progress is not None:
            progress(done, len(keyed), cached)
    return [r for r in results if r is not None]
