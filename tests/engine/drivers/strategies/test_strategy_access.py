"""Who may upload strategy code, and user strategies that belong to an account, through the
HTTP API of the real engine app (in-process, and under uvicorn for the upload bound).

Adding, replacing and removing user strategies needs the `strategies` permission; a user
strategy exists only for the account that added it (NOT_FOUND for every other account, as for
orders and deployments); the files of the flat layout of older engines become the local
account's; at most `max_checks` uploads are checked at once, the next ones are refused with 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import LiveServer, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.drivers.strategies.registry import (
    LEGACY_OWNER,
    account_directory,
)
from velocimex_cli.engine.node import StrategyLimits
from velocimex_cli.wire import jsonfmt

UPLOAD = "read,trade,strategies"


def marked(strategy_id: str, mark: str) -> str:
    """A strategy whose on_start logs `mark`: the log tells whose code a deployment ran."""
    return f"""
from velocimex_cli.strategy import Strategy

class Marked(Strategy):
    id = "{strategy_id}"
    description = "{mark}"

    def on_start(self):
        self.ctx.log("code of {mark}")
"""


@pytest.fixture
def app(tmp_path: Path) -> Starlette:
    return create_app(settings(data_dir=tmp_path / "engine"))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def keys(app: Starlette, account: str, permissions: str = UPLOAD) -> dict[str, str]:
    return auth_headers(app.state.runtime.keys, account, permissions=permissions)


def add(
    client: TestClient, headers: dict[str, str], source: str, replace: bool | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"source": source}
    if replace is not None:
        body["replace"] = replace
    return client.post("/v1/strategies", json=body, headers=headers)


def deploy(client: TestClient, headers: dict[str, str], strategy_id: str) -> httpx.Response:
    return client.post(
        f"/v1/strategies/{strategy_id}/deploy",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "params": {}},
        headers=headers,
    )


def ran(client: TestClient, headers: dict[str, str], strategy_id: str) -> list[str]:
    """Deploy `strategy_id`, stop it, and return what its on_start logged."""
    deployed = deploy(client, headers, strategy_id)
    assert deployed.status_code == 201, deployed.text
    deployment_id = deployed.json()["data"]["deployment_id"]
    stopped = client.post(f"/v1/strategies/deployments/{deployment_id}/stop", headers=headers)
    assert stopped.status_code == 200, stopped.text
    logs = client.get(f"/v1/strategies/deployments/{deployment_id}/logs", headers=headers)
    return [line["message"] for line in logs.json()["data"]["logs"] if "code of" in line["message"]]


def user_ids(client: TestClient, headers: dict[str, str]) -> list[str]:
    listed = client.get("/v1/strategies", headers=headers)
    assert listed.status_code == 200, listed.text
    return [s["strategy_id"] for s in listed.json()["data"]["strategies"] if s["kind"] == "user"]


def test_a_trade_key_cannot_add_replace_or_remove_strategy_code(
    app: Starlette, client: TestClient
) -> None:
    owner = keys(app, "alice")
    assert add(client, owner, marked("mine", "alice")).status_code == 201
    trade_only = keys(app, "alice", "read,trade")

    for refused in (
        add(client, trade_only, marked("other", "trade key")),
        add(client, trade_only, marked("mine", "trade key"), replace=True),
        client.delete("/v1/strategies/mine", headers=trade_only),
    ):
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "PERMISSION_DENIED"
        assert "'strategies' permission" in error["message"]
        assert "vmx engine keys create --permissions read,trade,strategies" in error["message"]
        assert error["details"]["permission"] == "strategies"

    # ... yet it deploys its account's user strategy (and the built-ins), which still runs
    # the code its owner added.
    assert ran(client, trade_only, "mine") == ["code of alice"]
    assert deploy(client, trade_only, "arbitrage").status_code == 201
    assert user_ids(client, trade_only) == ["mine"]


def test_another_account_can_neither_see_deploy_replace_nor_remove_a_strategy(
    app: Starlette, client: TestClient
) -> None:
    alice, bob = keys(app, "alice"), keys(app, "bob")
    assert add(client, alice, marked("secret-sauce", "alice")).status_code == 201
    never_added = client.get("/v1/strategies/no-such-thing", headers=bob).json()["error"]

    attempts = {
        "show": client.get("/v1/strategies/secret-sauce", headers=bob),
        "deploy": deploy(client, bob, "secret-sauce"),
        "replace": add(client, bob, marked("secret-sauce", "bob"), replace=True),
        "remove": client.delete("/v1/strategies/secret-sauce", headers=bob),
    }
    for what, answer in attempts.items():
        assert answer.status_code == 404, (what, answer.text)
        error = answer.json()["error"]
        # The same answer as for an id nobody has: nothing tells bob alice has one.
        assert error == {
            "code": "NOT_FOUND",
            "message": never_added["message"].replace("no-such-thing", "secret-sauce"),
            "details": {"strategy_id": "secret-sauce"},
        }, what
    assert "secret-sauce" not in user_ids(client, bob)

    # Alice's strategy is untouched: listed, and her next deploy runs her code.
    assert user_ids(client, alice) == ["secret-sauce"]
    shown = client.get("/v1/strategies/secret-sauce", headers=alice).json()["data"]
    assert shown["description"] == "alice"
    assert ran(client, alice, "secret-sauce") == ["code of alice"]


def test_two_accounts_may_each_have_a_strategy_of_the_same_id(
    app: Starlette, client: TestClient, tmp_path: Path
) -> None:
    alice, bob = keys(app, "alice"), keys(app, "bob")
    assert add(client, alice, marked("twin", "alice")).status_code == 201
    assert add(client, bob, marked("twin", "bob")).status_code == 201
    assert ran(client, alice, "twin") == ["code of alice"]
    assert ran(client, bob, "twin") == ["code of bob"]

    # Each replaces and removes its own only.
    assert add(client, bob, marked("twin", "bob again"), replace=True).status_code == 201
    assert ran(client, alice, "twin") == ["code of alice"]
    assert client.delete("/v1/strategies/twin", headers=bob).status_code == 200
    assert user_ids(client, bob) == [] and user_ids(client, alice) == ["twin"]
    assert ran(client, alice, "twin") == ["code of alice"]
    # Built-ins are everyone's and nobody replaces them.
    builtin = add(client, alice, marked("twap", "alice"), replace=True)
    assert builtin.status_code == 400 and "built-in" in builtin.json()["error"]["message"]
    folder = tmp_path / "engine" / "strategies" / account_directory("alice")
    assert sorted(p.name for p in folder.iterdir()) == [".account", "twin.json", "twin.py"]


def test_a_read_only_key_lists_only_its_own_account_s_user_strategies(
    app: Starlette, client: TestClient
) -> None:
    assert add(client, keys(app, "alice"), marked("alpha", "alice")).status_code == 201
    assert add(client, keys(app, "bob"), marked("beta", "bob")).status_code == 201
    alice_reads, carol_reads = keys(app, "alice", "read"), keys(app, "carol", "read")
    assert user_ids(client, alice_reads) == ["alpha"]
    assert user_ids(client, carol_reads) == []
    listed = client.get("/v1/strategies", headers=carol_reads).json()["data"]["strategies"]
    assert {"sma-cross", "twap"} <= {s["strategy_id"] for s in listed}  # the built-ins are shared
    assert client.get("/v1/strategies/alpha", headers=alice_reads).status_code == 200
    assert client.get("/v1/strategies/beta", headers=alice_reads).status_code == 404
    assert deploy(client, alice_reads, "alpha").status_code == 403  # deploying needs `trade`


def test_ownership_is_kept_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    first = create_app(settings(data_dir=data_dir))
    with TestClient(first) as client:
        alice, bob = keys(first, "alice"), keys(first, "bob")
        assert add(client, alice, marked("keeper", "alice")).status_code == 201
        assert add(client, bob, marked("keeper", "bob")).status_code == 201
    again = create_app(settings(data_dir=data_dir))
    with TestClient(again) as client:
        assert ran(client, alice, "keeper") == ["code of alice"]
        assert ran(client, bob, "keeper") == ["code of bob"]
        carol = keys(again, "carol")
        assert client.get("/v1/strategies/keeper", headers=carol).status_code == 404


def test_odd_account_names_get_their_own_directory(app: Starlette, client: TestClient) -> None:
    names = ["Alice", "alice", "../alice", "a/b", "a%2Fb", "ä", "x" * 300, "x" * 301]
    for name in names:
        assert add(client, keys(app, name), marked("same", name[:20])).status_code == 201
    folders = {account_directory(name) for name in names}
    assert len({folder.lower() for folder in folders}) == len(names)
    assert all("/" not in f and f not in (".", "..") and len(f) <= 120 for f in folders)
    for name in names:
        assert ran(client, keys(app, name), "same") == [f"code of {name[:20]}"]


def old_layout(data_dir: Path, strategy_id: str, mark: str) -> None:
    """A data directory as engines before per-account strategies left it: a real engine
    database, and the user strategy flat in `strategies/<id>.py` and `<id>.json` (the
    description as the engine listed it)."""
    app = create_app(settings(data_dir=data_dir))
    with TestClient(app) as client:
        owner = keys(app, "somebody")
        added = add(client, owner, marked(strategy_id, mark))
        assert added.status_code == 201
        described = added.json()["data"]
    flat = data_dir / "strategies"
    for folder in [p for p in flat.iterdir() if p.is_dir()]:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    (flat / f"{strategy_id}.py").write_text(marked(strategy_id, mark), encoding="utf-8")
    (flat / f"{strategy_id}.json").write_text(jsonfmt.dumps(described), encoding="utf-8")


def test_strategies_of_the_flat_layout_become_the_local_account_s(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    old_layout(data_dir, "legacy", "the old days")
    app = create_app(settings(data_dir=data_dir))
    with TestClient(app) as client:
        local, alice = keys(app, LEGACY_OWNER), keys(app, "alice")
        assert user_ids(client, local) == ["legacy"]
        assert ran(client, local, "legacy") == ["code of the old days"]
        assert client.get("/v1/strategies/legacy", headers=alice).status_code == 404
        assert deploy(client, alice, "legacy").status_code == 404
    strategies = data_dir / "strategies"
    assert sorted(p.name for p in strategies.iterdir()) == [LEGACY_OWNER]  # nothing flat left
    assert (strategies / LEGACY_OWNER / ".account").read_text() == LEGACY_OWNER
    assert (strategies / LEGACY_OWNER / "legacy.py").read_text() == marked("legacy", "the old days")

    again = create_app(settings(data_dir=data_dir))  # migrated once; kept as migrated
    with TestClient(again) as client:
        assert ran(client, local, "legacy") == ["code of the old days"]
        assert user_ids(client, alice) == []


def test_a_flat_file_that_clashes_with_a_migrated_one_is_left_in_place(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    old_layout(data_dir, "legacy", "first")
    with TestClient(create_app(settings(data_dir=data_dir))):
        pass  # migrates
    flat = data_dir / "strategies" / "legacy.py"
    flat.write_text(marked("legacy", "second"), encoding="utf-8")  # an old vmx wrote again
    app = create_app(settings(data_dir=data_dir))
    with TestClient(app) as client:
        assert ran(client, keys(app, LEGACY_OWNER), "legacy") == ["code of first"]
    assert flat.read_text() == marked("legacy", "second")  # kept, for its owner to sort out


SPINS = """
from velocimex_cli.strategy import Strategy
while True:
    pass
"""
ORDER = {
    "exchange": "NASDAQ",
    "symbol": "MSFT",
    "side": "buy",
    "type": "limit",
    "quantity": 1,
    "price": "100.00",
}


def test_uploads_are_checked_at_most_two_at_a_time_and_orders_stay_fast(tmp_path: Path) -> None:
    limits = StrategyLimits(start_seconds=3.0, max_checks=2)
    app = create_app(settings(data_dir=tmp_path / "engine", strategy_limits=limits))
    uploads = 5
    with LiveServer(app) as server:
        uploader, trader = keys(app, "mallory"), keys(app, "alice")
        answers: list[tuple[float, httpx.Response]] = []  # (when it came, the answer)

        def upload(index: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                source = SPINS.replace("pass", f"pass  # {index}")
                answer = http.post("/v1/strategies", json={"source": source}, headers=uploader)
                answers.append((time.monotonic() - started, answer))

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(uploads)]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/v1/strategies", headers=trader).status_code == 200  # warmed up
            started = time.monotonic()
            for thread in threads:
                thread.start()
            round_trips = []
            while time.monotonic() - started < 2.0:  # the two checks spin for 3 s
                began = time.perf_counter()
                placed = http.post("/v1/trading/orders", json=ORDER, headers=trader)
                round_trips.append(time.perf_counter() - began)
                assert placed.status_code == 201, placed.text
                listed = http.get("/v1/trading/orders", headers=trader)
                assert listed.status_code == 200
                time.sleep(0.05)  # under the account's orders-per-second limit (a fixed clock)
            for thread in threads:
                thread.join(timeout=30)

    assert len(answers) == uploads
    refused = [answer for _, answer in answers if answer.status_code == 429]
    checked = [answer for _, answer in answers if answer.status_code == 400]
    assert len(refused) == uploads - 2 and len(checked) == 2, [a.text for _, a in answers]
    # Refused at once, while the two checks still ran (they take their 3 s).
    assert all(when < 2.0 for when, answer in answers if answer.status_code == 429), answers
    for answer in refused:
        assert answer.headers["retry-after"] == "1"
        error = answer.json()["error"]
        assert error["code"] == "RATE_LIMIT_EXCEEDED"
        assert error["details"] == {"limit": 2, "retry_after": 1}
    for answer in checked:
        assert "took longer than 3 s" in answer.json()["error"]["message"]
    assert len(round_trips) >= 5
    assert max(round_trips) < 1.0, round_trips  # not held up by the spinning checks
