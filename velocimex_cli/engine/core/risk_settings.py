"""An account's risk settings as commands: its pre-trade limits (the checks themselves are in
risk.py) and its dead-man switch (cancel-after), armed and fired by the injected clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.orders import Reason
from velocimex_cli.engine.core.risk import AccountRisk, RiskLimits
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal
from velocimex_cli.wire.timefmt import iso_from_micros, to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.ledger import Account

MAX_CANCEL_AFTER = 86_400  # seconds, as Kraken's cancelAllOrdersAfter


def timer_wire(state: AccountRisk, now: int) -> dict[str, Any]:
    return {
        "current_time": iso_from_micros(now),
        "trigger_time": None if state.cancel_at is None else iso_from_micros(state.cancel_at),
        "timeout": state.cancel_timeout if state.cancel_at is not None else 0,
    }


class RiskSettings:
    """Risk limits and the dead-man switch of the Exchange (a mixin over its state)."""

    def _risk_of(self: ExchangeState, account_name: str) -> tuple[Account, AccountRisk]:
        account = self._account(account_name)
        if account.risk is None:
            raise InvalidParameter(
                "account", account_name, f"{account_name!r} is not a trading account"
            )
        return account, account.risk

    def risk_limits(self: ExchangeState, account_name: str) -> dict[str, Any]:
        return self._risk_of(account_name)[1].limits.to_wire()

    def set_risk_limits(
        self: ExchangeState, account_name: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change some of an account's limits (null switches one off); answers all of them."""
        if self.storage_refusal is not None:
            raise self.unstored("limits not changed")
        account, state = self._risk_of(account_name)
        limits = state.limits.updated(changes)
        self._begin()
        state.limits = limits
        if self._changes is not None:
            self._changes.risk.add(account.name)
        self._finish()
        return limits.to_wire()

    def cancel_after(self: ExchangeState, account_name: str, timeout: object) -> dict[str, Any]:
        """Arm (or with 0 disarm) the account's dead-man switch: unless called again within
        `timeout` seconds of engine time, every open order of the account is canceled."""
        number = parse_decimal(timeout)
        if (
            number is None
            or number != number.to_integral_value()
            or not 0 <= number <= MAX_CANCEL_AFTER
        ):
            raise InvalidParameter(
                "timeout",
                timeout,
                f"timeout must be a whole number of seconds from 1 to {MAX_CANCEL_AFTER}, "
                "or 0 to disarm",
            )
        if self.storage_refusal is not None:
            raise self.unstored("dead-man switch not changed")
        seconds = int(number)
        account, state = self._risk_of(account_name)
        now = self._begin()
        if seconds:
            state.cancel_at = now + seconds * 1_000_000
            self._armed[account.name] = account
        else:
            state.cancel_at = None
            self._armed.pop(account.name, None)
        state.cancel_timeout = seconds
        if self._changes is not None:
            self._changes.risk.add(account.name)
        self._finish()
        return timer_wire(state, now)

    def cancel_after_status(self: ExchangeState, account_name: str) -> dict[str, Any]:
        return timer_wire(self._risk_of(account_name)[1], to_micros(self.clock()))

    def restore_risk(
        self: ExchangeState,
        account_name: str,
        limits: RiskLimits,
        cancel_at: int | None,
        timeout: int,
    ) -> None:
        """Put back an account's stored limits and dead-man switch (the store, on open)."""
        account = self.ledger.accounts[account_name]
        account.risk = AccountRisk(limits, cancel_at=cancel_at, cancel_timeout=timeout)
        if cancel_at is not None:
            self._armed[account_name] = account

    def run_timers(self: ExchangeState) -> int:
        """Fire every dead-man switch whose time has come (by the injected clock): cancel the
        account's open orders (reason `cancel_after`) and disarm it. The server calls this as
        its clock advances. Returns how many orders were canceled. While the store cannot
        write, nothing fires: a switch due then fires at the first tick after it can."""
        if not self._armed or self.storage_refusal is not None:
            return 0
        now = to_micros(self.clock())
        due = [
            account
            for account in self._armed.values()
            if account.risk is not None
            and account.risk.cancel_at is not None
            and account.risk.cancel_at <= now
        ]
        if not due:
            return 0
        self._begin()
        canceled = 0
        for account in due:
            del self._armed[account.name]
            if account.risk is not None:  # (it is: only trading accounts are armed)
                account.risk.cancel_at = None
            if self._changes is not None:
                self._changes.risk.add(account.name)
            for order in [o for o in account.orders.values() if o.is_live]:
                self._cancel(account, order, Reason.CANCEL_AFTER)
                canceled += 1
        self._finish()
        return canceled
