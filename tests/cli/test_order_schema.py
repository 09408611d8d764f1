"""One order schema: every mistake the declaration (wire/orders.py) knows gets the same sentence
from `vmx order place` before anything is sent, from the HTTP API, and is refused by the
request schema /openapi.json publishes. The cases come from the declaration (`mistakes()`), so
a rule added there is checked here without a new test.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.cli.conftest import Harness
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.orders import VALID_ORDER, Mistake, mistakes

MISTAKES = list(mistakes())
ORDERS = "/v1/trading/orders"


def refusing_transport(sent: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that records what the CLI tried to send, and answers a 500 to it."""

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"error": {"code": "INTERNAL_ERROR", "message": "no"}})

    return httpx.MockTransport(handler)


def api_error(vmx: Harness, path: str, request: dict[str, Any]) -> dict[str, Any]:
    response = vmx.client.post(
        path,
        content=jsonfmt.dumps(request),
        headers={
            "Content-Type": "application/json",
            "X-API-Key": vmx.api_key,
            "X-API-Secret": vmx.api_secret,
        },
    )
    assert response.status_code == 400, (request, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "INVALID_PARAMETER"
    return error


def test_the_declaration_covers_the_mistakes_people_make() -> None:
    messages = {mistake.message for mistake in MISTAKES}
    assert {
        "price must be greater than zero",
        "type must be one of: limit, market",
        "a limit order needs a price",
        "time_in_force must be one of: gtc, ioc, fok",
        "price must have at most 8 decimal places",
        "a market order cannot rest: use ioc or fok",
        "quantity is required",
    } <= messages
    assert len({mistake.what for mistake in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
def test_the_api_gives_the_declared_sentence(vmx: Harness, mistake: Mistake) -> None:
    for path in (ORDERS, ORDERS + "/validate"):  # placing and the dry run alike
        error = api_error(vmx, path, mistake.request)
        assert error["message"] == mistake.message, path
        assert error["details"]["parameter"] == mistake.parameter, path


def test_the_cli_refuses_each_mistake_with_the_same_sentence_before_sending(
    vmx: Harness,
) -> None:
    lines = "".join(jsonfmt.dumps(mistake.request) + "\n" for mistake in MISTAKES)
    sent: list[httpx.Request] = []
    result = vmx.run(
        "order", "place", "--file", "-", "--yes", "-o", "ndjson",
        input=lines, transport=refusing_transport(sent),
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert sent == []  # every line was refused by the pre-check
    results = [jsonfmt.loads(line) for line in result.stdout.splitlines()]
    assert len(results) == len(MISTAKES)
    for mistake, line in zip(MISTAKES, results, strict=True):
        assert line["error"]["code"] == "INVALID_PARAMETER", mistake.what
        assert line["error"]["message"] == mistake.message, mistake.what
        assert line["error"]["details"]["parameter"] == mistake.parameter, mistake.what
        # ... and the API, asked the same, says the same
        assert api_error(vmx, ORDERS, mistake.request)["message"] == mistake.message


def as_arguments(request: dict[str, Any]) -> list[str] | None:
    """`vmx order place` arguments for `request`, or None if options cannot say it."""
    positional = [request.get(name) for name in ("exchange", "symbol", "side", "quantity")]
    options = {"price": "--price", "time_in_force": "--tif", "client_order_id": "--client-id"}
    if None in positional or "type" not in request:
        return None  # a missing argument is a usage error; no --type means "infer it"
    if request["type"] == "limit" and "price" not in request:
        return None  # the same mistake through the options: see the next test
    if request.get("post_only", False) not in (True, False):
        return None
    if not set(request) <= {"exchange", "symbol", "side", "quantity", "type", "post_only"} | set(
        options
    ):
        return None
    args = [str(value) for value in positional]
    args += ["--type", request["type"]]
    for name, option in options.items():
        if name in request:
            args += [option, str(request[name])]
    if request.get("post_only"):
        args.append("--post-only")
    return args


def test_the_cli_arguments_get_the_same_sentence(vmx: Harness) -> None:
    checked = 0
    for mistake in MISTAKES:
        args = as_arguments(mistake.request)
        if args is None:
            continue
        sent: list[httpx.Request] = []
        result = vmx.run("order", "place", *args, "--yes", transport=refusing_transport(sent))
        assert result.exit_code == 2, (mistake.what, result.stderr)
        assert sent == [], mistake.what
        assert mistake.message in result.stderr, (mistake.what, result.stderr)
        checked += 1
    assert checked >= 15


def test_a_limit_order_without_a_price_is_refused_alike(vmx: Harness) -> None:
    sent: list[httpx.Request] = []
    result = vmx.run(
        "order", "place", "NASDAQ", "AAPL", "buy", "1", "--type", "limit", "--yes",
        transport=refusing_transport(sent),
    )  # fmt: skip
    assert result.exit_code == 2 and sent == []
    request = {key: value for key, value in VALID_ORDER.items() if key != "price"}
    assert api_error(vmx, ORDERS, request)["message"] in result.stderr


def test_the_published_schema_refuses_every_mistake_and_takes_the_valid_order(
    vmx: Harness,
) -> None:
    spec = vmx.client.get("/openapi.json").json()
    for path in (ORDERS, ORDERS + "/validate"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        validator = jsonschema_rs.Draft202012Validator(body["schema"])
        as_json = json.loads(jsonfmt.dumps(VALID_ORDER))
        assert validator.is_valid(as_json)
        market = {**as_json, "type": "market", "time_in_force": "fok"}
        del market["price"]
        assert validator.is_valid(market)
        untyped = {key: value for key, value in as_json.items() if key != "type"}
        assert validator.is_valid(untyped)  # a limit order: it has a price
        del untyped["price"]
        assert validator.is_valid(untyped)  # a market order ...
        assert not validator.is_valid({**untyped, "time_in_force": "gtc"})  # ... cannot rest
        for mistake in MISTAKES:
            assert not validator.is_valid(json.loads(jsonfmt.dumps(mistake.request))), mistake.what


def test_what_needs_the_market_is_the_engines_and_said_the_same_through_the_cli(
    vmx: Harness,
) -> None:
    """A price off the tick passes the pre-check (it needs the instrument) and the engine's
    sentence reaches the person unchanged."""
    request = {**VALID_ORDER, "price": Decimal("150.505")}
    message = api_error(vmx, ORDERS, request)["message"]
    assert "tick size 0.01" in message
    result = vmx.run("order", "place", "NASDAQ", "AAPL", "buy", "1", "--price", "150.505", "-y")
    assert result.exit_code == 2 and message in result.stderr
