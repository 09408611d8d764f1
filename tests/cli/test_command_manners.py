"""Small manners of the command line: a near-miss noun suggests the right one, a negative
timeout is a range error, canceling twice is not a failure, settings print as TOML, lists of
words read as words."""

from __future__ import annotations

import tomllib

from tests.cli.conftest import Harness


def test_a_mistyped_noun_suggests_the_real_one(vmx: Harness) -> None:
    result = vmx.run("orders", "list")
    assert result.exit_code == 2
    assert "No such command 'orders'. Did you mean `vmx order`?" in result.stderr
    nothing_near = vmx.run("zzz")
    assert nothing_near.exit_code == 2 and "`vmx --help` lists them" in nothing_near.stderr
    verb = vmx.run("order", "lst")  # the noun's other verbs are built to suggest one
    assert verb.exit_code == 2 and "No such command 'lst'. Did you mean 'list'?" in verb.stderr


def test_a_negative_cancel_after_is_a_range_error_not_an_unknown_option(vmx: Harness) -> None:
    result = vmx.run("order", "cancel-after", "-5")
    assert result.exit_code == 2
    assert "SECONDS must be a whole number from 0 (disarm) to 86400, not '-5'" in result.stderr
    unknown = vmx.run("order", "cancel-after", "--soon")
    assert unknown.exit_code == 2 and "No such option: --soon" in unknown.stderr


def test_canceling_a_canceled_order_is_done_already(vmx: Harness) -> None:
    order = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000")
    first = vmx.json("order", "cancel", order["order_id"])
    assert first["status"] == "canceled"
    again = vmx.run("order", "cancel", order["order_id"], "--json")
    assert again.exit_code == 0, again.stderr
    assert f"Order {order['order_id']} was already canceled." in again.stderr
    assert '"status":"canceled"' in again.stdout.replace(" ", "")


def test_config_list_is_toml(vmx: Harness) -> None:
    assert vmx.run("config", "set", "confirm_notional", "2500").exit_code == 0
    assert vmx.run("--profile", "desk", "config", "set", "output", "json").exit_code in (0, 2)
    result = vmx.run("config", "list")
    assert result.exit_code == 0, result.stderr
    settings = tomllib.loads(result.stdout)  # parses: no Python repr of a dict
    assert settings["confirm_notional"] == "2500"
    assert "{'" not in result.stdout


def test_a_list_of_words_reads_as_words_in_a_table(vmx: Harness) -> None:
    from rich.console import Console

    from velocimex_cli.render.tables import detail_table

    console = Console(width=80, no_color=True, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(detail_table({"permissions": ["read", "trade"], "ip_allow": []}))
    shown = console.export_text()
    assert "read, trade" in shown and "[" not in shown


def test_numbers_print_as_plain_decimals_in_every_format(vmx: Harness) -> None:
    """A JSON number 0.00000001 is Decimal('1E-8') once parsed: every format prints it as
    written, never with an exponent."""
    import httpx

    from velocimex_cli.wire import jsonfmt

    ticker = {
        "exchange": "BINANCE", "symbol": "SHIB/USDT", "price": jsonfmt.loads("0.00000001"),
        "bid": jsonfmt.loads("0.00000001"), "ask": jsonfmt.loads("0.00000002"),
        "volume": jsonfmt.loads("1E+15"), "timestamp": "2026-11-24T15:00:00.000000Z",
    }  # fmt: skip

    def api(request: httpx.Request) -> httpx.Response:
        body = {"status": "ok", "data": ticker}
        return httpx.Response(200, text=jsonfmt.dumps(body), headers={"content-type": "json"})

    mock = httpx.MockTransport(api)
    for args in ((), ("--json",), ("-o", "csv"), ("-o", "ndjson")):
        result = vmx.run("ticker", "BINANCE", "SHIB/USDT", *args, transport=mock)
        assert result.exit_code == 0, result.stderr
        assert "0.00000001" in result.stdout and "1000000000000000" in result.stdout, args
        assert "E-" not in result.stdout and "E+" not in result.stdout, (args, result.stdout)


def test_hints_name_commands_not_routes(vmx: Harness) -> None:
    for args, command in (
        (("strategy", "show", "nope"), "`vmx strategy list`"),
        (("strategy", "status", "nope"), "`vmx strategy status`"),
    ):
        result = vmx.run(*args)
        assert result.exit_code == 7, result.stderr
        assert command in result.stderr and "/v1/" not in result.stderr, result.stderr
