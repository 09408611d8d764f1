"""The C core and the pure-Python engine (VMX_PURE_PYTHON=1) replay a recording identically.

The recorded book is mirrored into the engine's book in C (`_native.mirror_book`) when the C
core is active and by `Liquidity.set_level` otherwise: the bare replay's end state and the
reports of strategies that rest orders in the mirrored queues (both fill models) must be equal.
The recording moves its book up and down, so new levels also cross the mirror's stale ones.
"""

from __future__ import annotations

from pathlib import Path

from tests.core_variants import run_script

RUNS = """
import json, sys
from decimal import Decimal
from pathlib import Path
from benchmarks.backtest import EXCHANGE, SYMBOL, generate
from velocimex_cli.engine.backtest import runner
from velocimex_cli.engine.backtest.recording import read_recording
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import NATIVE
from velocimex_cli.engine.drivers.strategies.builtin import BUILTIN_STRATEGIES

path = Path(sys.argv[1])
if not path.exists():
    generate(path, 6000, seed=3)
    text = path.read_text().splitlines()
    # A jump of the whole book: the new bids cross the mirror's asks before they are removed.
    jump = text[-1].replace('"changes": [', '"changes": [{"side": "bid", "price": 60050.00, '
                            '"quantity": 0.00300}, ', 1)
    path.write_text("\\n".join([*text, jump]) + "\\n")
instrument = Catalogue().find(EXCHANGE, SYMBOL)
data = read_recording(path, instrument)
MAKER = {"bid_spread": Decimal("0.00001"), "ask_spread": Decimal("0.00001"),
         "order_amount": Decimal("0.01"), "max_inventory": Decimal(1),
         "order_refresh_time": Decimal("0.05")}
bare = runner.run(None, data, runner.BacktestOptions(EXCHANGE, SYMBOL))
out = {"native": NATIVE, "bare": bare.report}
for name, fill_model, params in (
    ("sma-cross", "queue", {"fast": 5, "slow": 20, "order_amount": Decimal("0.01")}),
    ("market-maker", "queue", MAKER),
    ("market-maker", "touch", MAKER),
):
    options = runner.BacktestOptions(EXCHANGE, SYMBOL, params=params, fill_model=fill_model)
    report = runner.run(BUILTIN_STRATEGIES[name], data, options).report
    out[name + "/" + fill_model] = {k: str(v) for k, v in report["metrics"].items()}
print(json.dumps(out, sort_keys=True))
"""


def _runs(path: Path, pure: bool) -> dict:
    return run_script(RUNS, [str(path)], pure, timeout=300)


def test_the_c_core_and_pure_python_replay_a_recording_identically(tmp_path: Path) -> None:
    path = tmp_path / "market.ndjson"
    pure = _runs(path, pure=True)
    native = _runs(path, pure=False)
    assert pure.pop("native") is False
    native.pop("native")
    assert pure["bare"]["events"] == 6001
    assert int(pure["market-maker/queue"]["fills"]) > 0
    assert int(pure["market-maker/touch"]["fills"]) > int(pure["market-maker/queue"]["fills"])
    assert native == pure
