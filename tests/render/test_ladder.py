"""The ladder through a captured Rich console: what a terminal of a given size would show."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rich.text import Text

from tests.render.conftest import book, screen
from velocimex_cli.render.depth_chart import depth_chart_lines
from velocimex_cli.render.ladder import LadderRenderer
from velocimex_cli.render.ladder_view import LadderView, book_figures
from velocimex_cli.render.price_levels import depth_bar, group_levels
from velocimex_cli.render.tape import Trade

D = Decimal
PRICE = re.compile(r"\b(\d{5}\.\d{2})\b")


def view(**changes: object) -> LadderView:
    bids, asks = book()
    values: dict = {
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "bids": bids,
        "asks": asks,
        "sequence": 152,
        "last_price": D("60005.00"),
        "reference_price": D("59990.00"),
        "messages_per_second": 1234.0,
        "lag_ms": 3.4,
        "frames_per_second": 10.0,
    }
    values.update(changes)
    return LadderView(**values)  # type: ignore[arg-type]


def split(lines: list[str]) -> tuple[list[str], int, list[str]]:
    """Header+heading lines dropped: (ask rows, index of the spread line, bid rows)."""
    spread = next(i for i, line in enumerate(lines) if "─" in line)
    asks = lines[4:spread]
    return asks, spread, lines[spread + 1 : spread + 1 + len(asks)]


def first_price(line: str) -> Decimal | None:
    match = PRICE.search(line)
    return D(match.group(1)) if match else None


def row_styles(frame: Text, row_text: str) -> set[str]:
    """The styles applied within the given row of a frame."""
    start = frame.plain.index(row_text)
    end = start + len(row_text)
    return {str(span.style) for span in frame.spans if span.start < end and span.end > start}


def test_normal_book_asks_above_bids_below_around_the_spread() -> None:
    lines = screen(LadderRenderer().render(view(), 120, 30), 120, 30)
    assert len(lines) == 30  # fits the terminal height exactly
    header = "\n".join(lines[:3])
    for part in ("BINANCE BTC/USDT", "last 60005.00", "+15.00", "(+0.03%)", "● live"):
        assert part in header
    assert "mid 60005.00" in header and "spread 10.00 (1.67 bps)" in header
    assert "imbalance -0.33" in header and "seq 152" in header
    assert "msgs/s 1234" in header and "lag 3 ms" in header and "fps 10.0" in header
    asks, spread, bids = split(lines)
    assert "spread 10.00 · 1.67 bps" in lines[spread]
    ask_prices = [first_price(line) for line in asks]
    bid_prices = [first_price(line) for line in bids]
    assert len(ask_prices) == len(bid_prices) == (30 - 5) // 2
    # Asks: highest at the top, the best ask right above the spread; bids: best right below.
    assert ask_prices == sorted(ask_prices, reverse=True)  # type: ignore[type-var]
    assert bid_prices == sorted(bid_prices, reverse=True)  # type: ignore[type-var]
    assert ask_prices[-1] == D("60010.00") and bid_prices[0] == D("60000.00")
    # price | size | cumulative | bar: the best bid's cumulative is its size, the next adds up
    assert re.search(r"60000\.00\s+0\.10000\s+0\.10000\s+[█▏▎▍▌▋▊▉]", bids[0])
    assert re.search(r"59994\.01\s+0\.11000\s+0\.21000\s+[█▏▎▍▌▋▊▉]", bids[1])
    assert "depth (full bar 5)" in lines[3]  # the deepest side (3.30 of asks) on a 1-2-5 scale
    # The tape sits beside the ladder on a wide terminal.
    assert "time" in lines[3] and "price" in lines[3]


def test_depth_bars_grow_with_cumulative_size_at_eighth_cell_resolution() -> None:
    assert depth_bar(D(1), D(1), 4) == "████"
    assert depth_bar(D(1), D(2), 4) == "██  "
    assert depth_bar(D(1), D(16), 4) == "▎   "  # 1/16 of 4 cells = 2 eighths
    assert depth_bar(D(3), D(32), 4) == "▍   "  # 3 eighths
    assert depth_bar(D(13), D(16), 2) == "█▋  "[:2]  # 13 eighths = 1 cell + 5/8
    assert depth_bar(D("0.0001"), D(1000), 4) == "▏   "  # anything positive shows
    assert depth_bar(D(0), D(1), 4) == "    "
    lines = screen(LadderRenderer().render(view(), 120, 30), 120, 30)
    _, _, bids = split(lines)
    bars = [len(line.split("  ")[-1].strip()) for line in bids]
    assert bars == sorted(bars)


def test_empty_book_says_so_and_shows_no_figures() -> None:
    lines = screen(LadderRenderer().render(view(bids=[], asks=[]), 100, 20), 100, 20)
    text = "\n".join(lines)
    assert "the book is empty" in text
    assert "mid -" in text and "spread - (- bps)" in text and "imbalance -" in text
    assert not PRICE.search("\n".join(lines[4:]).split("time")[0])


def test_one_sided_book() -> None:
    bids, _ = book()
    lines = screen(LadderRenderer().render(view(asks=[]), 100, 20), 100, 20)
    asks_rows, spread, bid_rows = split(lines)
    assert "no asks" in lines[spread]
    assert all(first_price(line) is None for line in asks_rows)
    assert first_price(bid_rows[0]) == bids[0][0]
    assert "mid -" in lines[1]


def test_crossed_book_is_flagged_and_never_drawn_as_valid() -> None:
    bids, asks = book()
    crossed = [(D("60020.00"), D("1.00000")), *bids]
    renderer = LadderRenderer()
    frame = renderer.render(view(bids=crossed, asks=asks), 120, 24)
    lines = screen(frame, 120, 24)
    assert "● book crossed" in lines[0]
    _, spread, bid_rows = split(lines)
    assert "book crossed: bid 60020.00 ≥ ask 60010.00" in lines[spread]
    assert "not valid" in lines[spread]
    # No level row is drawn in the side colours: every one is dimmed.
    best = bid_rows[0][: bid_rows[0].index("█")].rstrip()
    styles = row_styles(frame, best.strip())
    assert "green" not in styles and "red" not in styles
    assert "dim" in styles


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({"book_status": "resyncing"}, "resyncing"),
        ({"book_status": "syncing"}, "syncing"),
        ({"connection": "reconnecting (attempt 3)"}, "reconnecting (attempt 3)"),
    ],
)
def test_a_book_not_known_to_be_right_is_dimmed_and_says_why(changes: dict, label: str) -> None:
    frame = LadderRenderer().render(view(**changes), 120, 24)
    lines = screen(frame, 120, 24)
    assert f"● {label}" in lines[0]
    _, spread, _ = split(lines)
    assert "⚠" in lines[spread]
    styles = row_styles(frame, "60000.00")
    assert "green" not in styles and "dim" in styles


def test_own_orders_are_marked_on_their_levels_with_their_size() -> None:
    bids, asks = book()
    own = {("bid", bids[2][0]): D("0.05000"), ("ask", asks[0][0]): D("0.20000")}
    frame = LadderRenderer().render(view(own=own), 120, 24)
    lines = screen(frame, 120, 24)
    asks_rows, _, bid_rows = split(lines)
    marked = [line for line in lines if "▶" in line]
    assert len(marked) == 2
    assert re.search(r"▶ 0\.05000\s+59988\.02", bid_rows[2])
    assert re.search(r"▶ 0\.20000\s+60010\.00", asks_rows[-1])
    assert "own orders at 2 levels" in lines[2] and "off screen" not in lines[2]
    deep = {("bid", D("1.00")): D("0.05000")}
    lines = screen(LadderRenderer().render(view(own=deep), 120, 24), 120, 24)
    assert "own orders at 1 level (1 off screen)" in lines[2]
    assert not any("▶" in line for line in lines)
    assert "reverse" in " ".join(row_styles(frame, "59988.02"))


def test_narrow_terminal_drops_the_tape_before_the_ladder() -> None:
    trades = [Trade(D("60005.00"), D("0.01000"), "buy", "2026-11-24T15:00:00.123456Z")]
    renderer = LadderRenderer()
    wide = screen(renderer.render(view(trades=trades), 120, 20), 120, 20)
    assert any("15:00:00.123" in line for line in wide)
    for width in (70, 50, 36):
        lines = screen(renderer.render(view(trades=trades), width, 20), width, 20)
        assert not any("15:00:00.123" in line for line in lines), width
        assert all(len(line) <= width for line in lines)
        _, _, bids = split(lines)
        assert first_price(bids[0]) == D("60000.00"), (width, bids[0])
        assert "0.10000" in bids[0]  # size stays


def test_columns_do_not_jump_when_numbers_get_shorter() -> None:
    renderer = LadderRenderer()
    long = [(D("60000.00"), D("123.45678"))]
    short = [(D("60000.00"), D("0.1"))]
    first = screen(renderer.render(view(bids=long), 120, 12), 120, 12)
    second = screen(renderer.render(view(bids=short), 120, 12), 120, 12)
    _, _, a = split(first)
    _, _, b = split(second)
    assert a[0].index("60000.00") == b[0].index("60000.00")
    assert a[0].index("█") == b[0].index("█")
    # the column heading did not move (only the bar's scale in it changed)
    assert first[3].split("depth")[0] == second[3].split("depth")[0]


def test_unchanged_rows_come_from_the_cache() -> None:
    renderer = LadderRenderer()
    renderer.render(view(), 120, 30)
    built = renderer.rows_built
    renderer.render(view(), 120, 30)
    assert renderer.rows_built == built
    bids, asks = book()
    bids[5] = (bids[5][0], D("0.90000"))  # one level changes: it and the deeper cumulative
    renderer.render(view(bids=bids, asks=asks), 120, 30)
    assert 0 < renderer.rows_built - built < 30


def test_grouping_aggregates_levels_into_buckets() -> None:
    bids = [(D("100.07"), D(1)), (D("100.03"), D(2)), (D("99.99"), D(4))]
    asks = [(D("100.11"), D(1)), (D("100.14"), D(2)), (D("100.16"), D(4))]
    step = D("0.05")
    assert group_levels(bids, step, "bid") == [
        (D("100.05"), D(1)),
        (D("100.00"), D(2)),
        (D("99.95"), D(4)),
    ]
    assert group_levels(asks, step, "ask") == [(D("100.15"), D(3)), (D("100.20"), D(4))]
    own = {("bid", D("100.03")): D(1)}
    frame = LadderRenderer().render(
        view(bids=bids, asks=asks, group_step=step, group_ticks=5, own=own), 120, 16
    )
    lines = screen(frame, 120, 16)
    assert "group 0.05 (5 ticks)" in lines[1]
    # The header's spread is the book's (100.11 - 100.07), not the buckets' (100.15 - 100.05).
    assert "spread 0.04" in lines[1] and "mid 100.09" in lines[1]
    text = "\n".join(lines)
    assert "100.15" in text and "100.14" not in text
    assert re.search(r"▶ 1\s+100\.00", text)


def test_figures() -> None:
    figures = book_figures([(D("99"), D(3))], [(D("101"), D(1))])
    assert figures.mid == D(100) and figures.spread == D(2)
    assert figures.spread_bps == D("200.00") and figures.imbalance == D("0.50")
    assert not figures.crossed
    assert book_figures([(D("101"), D(1))], [(D("101"), D(1))]).crossed


def test_tape_colours_the_aggressor_side() -> None:
    trades = [
        Trade(D("60005.00"), D("0.01000"), "buy", "2026-11-24T15:00:01.000000Z"),
        Trade(D("60004.00"), D("0.02000"), "sell", "2026-11-24T15:00:00.500000Z"),
    ]
    frame = LadderRenderer().render(view(trades=trades), 120, 20)
    lines = screen(frame, 120, 20)
    assert "15:00:01.000 60005.00 0.01000 ▲" in lines[4]
    assert "15:00:00.500 60004.00 0.02000 ▼" in lines[5]
    assert "green" in row_styles(frame, "60005.00 0.01000 ▲")
    assert "red" in row_styles(frame, "60004.00 0.02000 ▼")


def test_depth_chart_draws_both_sides() -> None:
    bids = [(D("99"), D(1)), (D("98"), D(1)), (D("97"), D(2))]
    asks = [(D("101"), D(1)), (D("102"), D(3))]
    chart = depth_chart_lines(bids, asks, 20, 6)
    assert len(chart) == 6 and all(line.cell_len <= 20 for line in chart)
    assert "max 4" in chart[0].plain
    plot = [line.plain for line in chart[1:-1]]
    assert plot[0][0] == "█" and plot[0][-1] == "█"  # deepest bid and ask reach the top
    assert plot[-1][9] == " " and plot[-1][10] == " "  # nothing inside the spread
    # Bid depth falls towards the spread, ask depth rises from it.
    heights = [sum(1 for row in plot if row[c] != " ") for c in range(20)]
    assert heights[:8] == sorted(heights[:8], reverse=True)
    assert heights[12:] == sorted(heights[12:])
    assert chart[-1].plain.startswith("97") and chart[-1].plain.endswith("102")
    assert {str(s.style) for s in chart[1].spans} == {"green", "red"}
    dimmed = depth_chart_lines(bids, asks, 20, 6, valid=False)
    assert {str(s.style) for s in dimmed[1].spans} == {"dim"}

    lines = screen(LadderRenderer().render(view(), 120, 24, chart=True), 120, 24)
    assert len(lines) == 24 and "cumulative depth" in lines[3]
    assert lines[-2].startswith("█") and "█" in lines[4]
    empty = screen(LadderRenderer().render(view(bids=[], asks=[]), 100, 16, chart=True), 100, 16)
    assert "the book is empty" in "\n".join(empty)


def test_the_bar_scale_moves_in_1_2_5_steps() -> None:
    from velocimex_cli.render.price_levels import nice_ceiling

    cases = {"7": "10", "7.5": "10", "10": "10", "10.01": "20", "0.31663": "0.5", "123": "200"}
    assert {k: str(nice_ceiling(D(k))) for k in cases} == cases
    assert nice_ceiling(D(0)) == 1


def test_a_replay_says_replay_at_its_speed_instead_of_live() -> None:
    bids = [(D("100.00"), D(1))]
    asks = [(D("100.10"), D(1))]
    lines = screen(
        LadderRenderer().render(view(bids=bids, asks=asks, replay="replay ×10"), 100, 12), 100, 12
    )
    assert "● replay ×10" in lines[0] and "live" not in lines[0]
    assert "lag" not in lines[2] and "msgs/s" in lines[2]


def test_a_mirrored_book_whose_feed_is_down_is_dimmed_and_says_why_in_its_title() -> None:
    reason = "sequence gap: update 1204 after 1190"
    frame = LadderRenderer().render(view(feed_down=reason), 120, 24)
    lines = screen(frame, 120, 24)
    assert f"● feed down: {reason}" in lines[0]
    _, spread, _ = split(lines)
    assert f"⚠ BINANCE BTC/USDT feed down: {reason}" in lines[spread]
    styles = row_styles(frame, "60000.00")
    assert "green" not in styles and "dim" in styles
    # The depth chart has no spread line: the title still says it.
    chart = screen(LadderRenderer().render(view(feed_down=reason), 120, 24, chart=True), 120, 24)
    assert f"● feed down: {reason}" in chart[0]
    # A long reason on a narrow screen leaves the instrument's name in the title.
    long = "checksum error: " + "x" * 200
    narrow = screen(LadderRenderer().render(view(feed_down=long), 60, 20), 60, 20)
    assert narrow[0].startswith("BINANCE BTC/USDT") and "● feed down: checksum" in narrow[0]
    assert narrow[0].endswith("…") and len(narrow[0]) <= 60
    # Once whole again it is drawn as the market.
    whole = screen(LadderRenderer().render(view(), 120, 24), 120, 24)
    assert "● live" in whole[0] and "feed down" not in "\n".join(whole)
