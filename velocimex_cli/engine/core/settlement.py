"""Settlement: moving assets on each fill of a match.

Quote from buyer to seller, base the other way, fees (fees.py: at the instrument's own rates,
else the exchange's) to the fee account; the
buyer's lock shrinks to what its remainder needs (locks.py), the seller's by the base it gave;
positions, fill records, the ticker's statistics, the trade events and the makers' statuses
follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import FillEvent, TradeEvent
from velocimex_cli.engine.core.fees import fee
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.ledger import FEE_ACCOUNT, AccountKind, Position
from velocimex_cli.engine.core.locks import buy_release_on_fill, lock_rate_of
from velocimex_cli.engine.core.native_path import settle as native_settle
from velocimex_cli.engine.core.orders import BUY, FILLED, PARTIALLY_FILLED, Order
from velocimex_cli.engine.core.views import fill_wire

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState, Fill
    from velocimex_cli.engine.core.ledger import Account

USER = AccountKind.USER  # a global is cheaper than an enum attribute in the fill loop


class Settlement:
    """Fill settlement of the Exchange (a mixin over its state)."""

    def _settle(
        self: ExchangeState, taker_account: Account, taker: Order, fills: list[Fill]
    ) -> None:
        """Settle a match's fills: in C when the C core is active and no events are collected
        (native_path.py), else `_settle_fills`."""
        if native_settle is not None and self._events is None:
            native_settle(self, taker_account, taker, fills)
        else:
            self._settle_fills(taker_account, taker, fills)

    def _settle_fills(
        self: ExchangeState, taker_account: Account, taker: Order, fills: list[Fill]
    ) -> None:
        """Move assets for each (maker, lots, price) fill: quote from buyer to seller, base the
        other way, fees to the fee account; update positions, fills, ticker and the orders'
        locks and statuses."""
        instrument = taker.instrument
        notional_units = instrument.notional_units
        lot_units = instrument.lot_units
        quote, base = instrument.quote, instrument.base
        accounts = self.ledger.accounts
        fee_balance = self.ledger.fees.balance(quote)
        maker_rate, taker_rate = instrument.maker_rate, instrument.taker_rate
        if maker_rate is None or taker_rate is None:  # no rates of its own: the exchange's
            maker_rate, taker_rate = self._maker_rate, self._taker_rate
        lock_rate = lock_rate_of(instrument, self._lock_rate)
        now = self._now
        changes = self._changes
        stats = self.stats[instrument.index]
        events = self._events
        taker_is_buy = taker.side == BUY
        index = instrument.index
        fee_total = 0
        for maker, lots, price in fills:
            maker_account = accounts[maker.account]
            notional = price * lots * notional_units
            base_units = lots * lot_units
            maker_fee = fee(notional, maker_rate)
            taker_fee = fee(notional, taker_rate)
            trade_id = self.next_trade_id
            self.next_trade_id += 1
            if taker_is_buy:
                buyer, buyer_order, buyer_fee = taker_account, taker, taker_fee
                seller, seller_fee = maker_account, maker_fee
            else:
                buyer, buyer_order, buyer_fee = maker_account, maker, maker_fee
                seller, seller_fee = taker_account, taker_fee
            taker.filled += lots  # the book already counted the maker's side
            # Buyer: pays notional + fee out of its lock, which shrinks to what the rest needs.
            released = buy_release_on_fill(
                buyer_order, lots, buyer_order.price * notional_units, lock_rate
            )
            quote_entry = buyer.balances[quote]
            quote_entry[0] -= notional + buyer_fee
            quote_entry[1] -= released
            buyer.balance(base)[0] += base_units
            # Seller: gives base out of its lock, receives notional - fee.
            base_entry = seller.balances[base]
            base_entry[0] -= base_units
            base_entry[1] -= base_units
            seller.balance(quote)[0] += notional - seller_fee
            fee_total += buyer_fee + seller_fee
            maker.filled_notional += notional
            taker.filled_notional += notional
            maker.updated = now
            position = buyer.positions.get(index) or buyer.positions.setdefault(index, Position())
            position.apply(lots, notional)
            position.realized -= buyer_fee  # realized PnL includes fees (see Position)
            position = seller.positions.get(index) or seller.positions.setdefault(index, Position())
            position.apply(-lots, notional)
            position.realized -= seller_fee
            stats.record(now, price, lots)
            if taker_account.kind is USER:
                record = FillRecord(trade_id, taker, price, lots, taker_fee, "taker", now)
                self._record_fill(taker_account, record)
            if maker_account.kind is USER:
                record = FillRecord(trade_id, maker, price, lots, maker_fee, "maker", now)
                self._record_fill(maker_account, record)
            if changes is not None:
                changes.balances.update(
                    ((buyer.name, quote), (buyer.name, base), (seller.name, quote),
                     (seller.name, base))
                )  # fmt: skip
                changes.positions.update(((buyer.name, index), (seller.name, index)))
                changes.orders[maker.id] = maker
                changes.trades.append((trade_id, index, price, lots, now))
            if events is not None:
                self._traded.add(index)
                if self._trade_events:
                    events.append(TradeEvent(instrument, trade_id, price, lots, taker.side, now))
            if maker.filled == maker.quantity:
                maker.status = FILLED
                maker_account.open_orders -= 1
                self._order_closed(maker_account, maker)
                if events is not None:
                    self._emit_order(maker, "filled")
            else:
                maker.status = PARTIALLY_FILLED
                if events is not None:
                    self._emit_order(maker, "partially_filled")
        taker.updated = now
        fee_balance[0] += fee_total
        if changes is not None:
            changes.balances.add((FEE_ACCOUNT, quote))

    def _record_fill(self: ExchangeState, account: Account, record: FillRecord) -> None:
        account.fills.append(record)
        if self._changes is not None:
            self._changes.fills.append(record)
        if self._events is not None:
            accounts = self._event_accounts
            if accounts is None or account.name in accounts:
                self._events.append(FillEvent(account.name, fill_wire(record)))
