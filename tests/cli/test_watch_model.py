"""The watch view's state and pacing: messages folded in, frames merged and capped."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from velocimex_cli.cli.live_screen import FramePacer
from velocimex_cli.cli.market_watch import FrameStats, MarketWatch
from velocimex_cli.client.book import LocalBook
from velocimex_cli.wire.streams import book_checksum

D = Decimal


def snapshot(sequence: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> dict:
    levels = [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks]
    return {
        "type": "book_snapshot",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": sequence,
        "timestamp": "2026-11-24T15:00:00.000000Z",
        "bids": [{"price": p, "quantity": q} for p, q in levels[0]],
        "asks": [{"price": p, "quantity": q} for p, q in levels[1]],
        "checksum": book_checksum(*levels),
        "received_at": 1_000_000_000,
    }


def make_watch() -> tuple[MarketWatch, LocalBook]:
    book = LocalBook("BINANCE", "BTC/USDT")
    return MarketWatch("BINANCE", "BTC/USDT", lambda: book), book


def test_messages_fold_into_the_ladder_view() -> None:
    watch, book = make_watch()
    assert watch.view(5).book_status == "syncing" and watch.view(5).bids == []
    message = snapshot(10, [("100.00", "1.0"), ("99.00", "2.0")], [("101.00", "0.5")])
    book.apply(message)
    assert watch.apply(message)
    assert watch.apply({"type": "connection", "state": "live", "attempt": 0})
    trade = {
        "type": "trade",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "price": D("101.00"),
        "quantity": D("0.1"),
        "side": "buy",
        "timestamp": "2026-11-24T15:00:01.000000Z",
        "received_at": 1_002_000_000,
    }
    assert watch.apply(trade)
    assert not watch.apply({**trade, "symbol": "ETH/USDT"})  # another instrument's trade
    watch.apply({**trade, "price": D("102.00")})
    order = {
        "type": "order",
        "event": "accepted",
        "order_id": "5",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": D("0.4"),
        "price": D("99.00"),
        "filled_quantity": D("0"),
        "status": "open",
        "received_at": 1_003_000_000,
    }
    assert watch.apply(order)
    view = watch.view(1)
    assert view.bids == [(D("100.00"), D("1.0"))] and view.asks == [(D("101.00"), D("0.5"))]
    assert view.sequence == 10 and view.connection == "live"
    assert view.last_price == D("102.00") and view.reference_price == D("101.00")
    assert [t.price for t in view.trades] == [D("102.00"), D("101.00")]
    assert view.own == {("bid", D("99.00")): D("0.4")}
    assert watch.stats.messages == 4  # snapshot, two trades, the order: what changed the view


def test_connection_states_and_resyncs_are_shown() -> None:
    watch, _ = make_watch()
    watch.apply(
        {"type": "connection", "state": "reconnecting", "attempt": 3, "error": "connection refused"}
    )
    view = watch.view(5)
    assert view.connection == "reconnecting (attempt 3)"
    assert view.note == "last error: connection refused"
    watch.apply({"type": "resync", "instrument": "BINANCE:BTC/USDT", "reason": "sequence gap"})
    assert watch.view(5).note == "resync: sequence gap"


def test_ndjson_snapshot_never_calls_a_crossed_or_stale_book_valid() -> None:
    watch, book = make_watch()
    book.apply(snapshot(1, [("100.00", "1.0")], [("101.00", "1.0")]))
    watch.apply({"type": "connection", "state": "live", "attempt": 0})
    line = watch.snapshot(5)
    assert line["valid"] is True and line["status"] == "live" and line["sequence"] == 1
    assert line["bids"] == [{"price": D("100.00"), "quantity": D("1.0")}]
    watch.apply({"type": "connection", "state": "reconnecting", "attempt": 1})
    assert watch.snapshot(5)["valid"] is False
    crossed = snapshot(2, [("102.00", "1.0")], [("101.00", "1.0")])
    book.apply(crossed)
    watch.apply({"type": "connection", "state": "live", "attempt": 0})
    line = watch.snapshot(5)
    assert line["valid"] is False and line["status"] == "resyncing"


def test_frame_stats_rates_and_lag() -> None:
    stats = FrameStats(keep_lags=True)
    stats.on_frame(0)
    for i in range(100):
        stats.on_message(10_000_000 + i * 5_000_000)  # 100 messages over 0.5 s
    stats.on_frame(600_000_000)
    assert stats.lag_ms == 590.0  # the oldest message waited this long
    stats.on_frame(1_000_000_000)
    assert stats.messages_per_second == 100.0
    assert stats.frames_per_second == 2.0
    assert stats.lags_ns is not None and len(stats.lags_ns) == 100
    assert max(stats.lags_ns) == 590_000_000 and min(stats.lags_ns) == 95_000_000


def test_pacer_merges_updates_caps_the_rate_and_skips_unchanged_frames() -> None:
    async def scenario() -> tuple[int, int, float]:
        pacer = FramePacer(fps=20)
        frames: list[float] = []
        marks = 0

        async def producer() -> None:
            nonlocal marks
            loop = asyncio.get_running_loop()
            end = loop.time() + 0.5
            while loop.time() < end:  # ~1000 updates in half a second
                pacer.mark()
                marks += 1
                await asyncio.sleep(0.0005)
            await asyncio.sleep(0.3)  # then nothing changes
            pacer.stop()

        task = asyncio.create_task(producer())
        while await pacer.next_frame():
            frames.append(asyncio.get_running_loop().time())
        await task
        gaps = [b - a for a, b in itertools.pairwise(frames)]
        return len(frames), marks, min(gaps)

    frames, marks, shortest_gap = asyncio.run(scenario())
    assert marks > 100
    # At most 20 frames a second over the ~0.5 s of updates (+1 for the first, immediate one),
    # none during the quiet 0.3 s after them.
    assert 5 <= frames <= 12
    assert shortest_gap >= 0.049


def test_a_stream_never_live_gives_up_as_unreachable_one_that_was_live_never_does() -> None:
    import pytest

    from velocimex_cli.cli.live_view import give_up_unless_ever_live
    from velocimex_cli.cli.stream import FIRST_CONNECT_ATTEMPTS
    from velocimex_cli.wire.errors import Unreachable

    seen: list[dict] = []
    never = give_up_unless_ever_live("http://127.0.0.1:9", lambda m: seen.append(m) is None)
    for attempt in range(1, FIRST_CONNECT_ATTEMPTS + 1):
        assert never({"type": "connection", "state": "reconnecting", "attempt": attempt})
    with pytest.raises(Unreachable) as raised:
        never(
            {
                "type": "connection",
                "state": "reconnecting",
                "attempt": FIRST_CONNECT_ATTEMPTS + 1,
                "error": "connection refused",
            }
        )
    assert raised.value.reason == "connection refused"
    was_live = give_up_unless_ever_live("http://127.0.0.1:9", lambda m: True)
    assert was_live({"type": "connection", "state": "live", "attempt": 0})
    for attempt in range(1, 3 * FIRST_CONNECT_ATTEMPTS):
        assert was_live({"type": "connection", "state": "reconnecting", "attempt": attempt})


def test_plus_and_minus_step_the_grouping_at_the_books_own_spacing() -> None:
    """A BTC book with levels 5.98 apart (tick 0.01): the first `+` groups by 10 (merging
    about two levels), then 20, 50, 100; `-` walks back to no grouping. Grouping by ticks
    (2, 5, 10 ticks = 0.02 .. 0.10) merged nothing on such a book."""
    from decimal import Decimal as D

    from velocimex_cli.cli.ladder_keys import next_group

    tick = D("0.01")
    prices = [D("60000.00") - D("5.98") * i for i in range(20)]
    steps: list[D | None] = [None]
    for _ in range(4):
        steps.append(next_group(steps[-1], True, tick, prices))
    assert steps == [None, D(10), D(20), D(50), D(100)]
    back = [steps[-1]]
    for _ in range(4):
        back.append(next_group(back[-1], False, tick, prices))
    assert back == [D(100), D(50), D(20), D(10), None]
    assert next_group(None, False, tick, prices) is None
    # A penny stock's book, levels one tick apart: the steps start at two ticks.
    fine = [D("1.00") - D("0.01") * i for i in range(20)]
    assert next_group(None, True, tick, fine) == D("0.02")


def order_message(order_id: str, status: str, price: str = "99.00") -> dict:
    return {
        "type": "order",
        "event": "accepted" if status == "open" else status,
        "order_id": order_id,
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": D("1.0"),
        "price": D(price),
        "filled_quantity": D("0"),
        "status": status,
    }


def test_after_an_outage_open_orders_are_fetched_again_and_newer_updates_kept() -> None:
    import threading

    from velocimex_cli.cli.own_orders import OpenOrdersResync
    from velocimex_cli.render.order_board import OrderBoard

    async def scenario() -> OrderBoard:
        board = OrderBoard()
        pacer = FramePacer(fps=10)
        answered = threading.Event()
        asked = threading.Event()

        def fetch() -> dict:  # the REST answer: 1 ended while the stream was down, 3 is new
            asked.set()
            answered.wait(5)
            rest = [
                {
                    **{k: v for k, v in order_message(i, "open", p).items() if k != "type"},
                    "type": "limit",
                }
                for i, p in (("3", "97.00"), ("5", "95.00"))  # 5: canceled after this answer
            ]
            return {"orders": rest}

        resync = OpenOrdersResync(board, fetch, board.apply, pacer)
        assert resync(order_message("1", "open"))
        assert resync(order_message("2", "open", "98.00"))
        resync({"type": "connection", "state": "live", "attempt": 0})
        assert resync.task is None  # the first connection is no outage
        resync({"type": "connection", "state": "reconnecting", "attempt": 1})
        resync({"type": "connection", "state": "live", "attempt": 1})
        assert resync.task is not None
        await asyncio.to_thread(asked.wait, 5)
        # While the REST answer is on its way, order 4 is accepted and 3 is canceled: the
        # stream is newer than the REST answer, so both survive the reload.
        assert resync(order_message("4", "open", "96.00"))
        assert resync(order_message("5", "open", "95.00"))
        assert resync(order_message("5", "canceled", "95.00"))
        answered.set()
        await resync.task
        return board

    board = asyncio.run(scenario())
    assert sorted(board.open) == ["3", "4"]
    assert {o.order_id: o.status for o in board.closed} == {
        "1": "not open",
        "2": "not open",
        "5": "canceled",
    }
    assert len(board.closed) == 3
    assert board.own_levels("BINANCE", "BTC/USDT") == {
        ("bid", D("97.00")): D("1.0"),
        ("bid", D("96.00")): D("1.0"),
    }


def test_a_feed_down_dims_the_view_and_is_said_in_the_ndjson_snapshot() -> None:
    from velocimex_cli.wire.streams import book_status_message

    watch, book = make_watch()
    book.apply(snapshot(1, [("100.00", "1.0")], [("101.00", "1.0")]))
    watch.apply({"type": "connection", "state": "live", "attempt": 0})
    down = book_status_message("BINANCE", "BTC/USDT", False, "stalled: no update for 30 s", "t")
    book.apply(down)
    assert watch.apply(down)  # the screen changes
    assert watch.view(5).feed_down == "stalled: no update for 30 s"
    line = watch.snapshot(5)
    assert line["valid"] is False and line["feed_down"] == "stalled: no update for 30 s"
    assert not watch.apply({**down, "exchange": "KRAKEN"})  # another instrument's status
    fresh = snapshot(2, [("100.00", "1.0")], [("101.00", "1.0")])
    book.apply(fresh)
    watch.apply(fresh)
    line = watch.snapshot(5)
    assert line["valid"] is True and "feed_down" not in line
    assert watch.view(5).feed_down is None
