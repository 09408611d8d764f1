/* locks.c <-> locks.py: what an order locks while live, and what a fill releases.
 *
 * In 128 bits: each returns 0 when the value overflows even that (the caller hands the
 * command back to Python, whose ints are exact).
 */
#include "_native.h"

/* locks.lock_rate_of: the fee rate a buy on `instrument` locks, its own (a mirrored venue's) or
 * else `exchange_rate` (FAST_FALLBACK: beyond int64). */
int
lock_rate_of(PyObject *instrument, long long exchange_rate, long long *out)
{
    PyObject *rate = PyObject_GetAttr(instrument, s_lock_rate);
    if (rate == NULL) {
        return -1;
    }
    int rc = FAST_OK;
    if (rate == Py_None) {
        *out = exchange_rate;
    }
    else {
        rc = get_ll(rate, out);
    }
    Py_DECREF(rate);
    return rc;
}

/* locks.lock_for: what `lots` of an order of `side` at `price` lock, in 128 bits (0: it
 * overflows). */
int
lock_for_lots(long long side, long long price, long long lots, long long notional_units,
              long long lot_units, long long lock_rate, i128 *out)
{
    i128 v;
    if (side == BUY) {
        i128 notional, fee;
        if (!mul128(price, lots, &v) || !mul128(v, notional_units, &notional) ||
            !mul128(notional, lock_rate, &fee)) {
            return 0;
        }
        *out = notional + floordiv(fee, RATE_SCALE);
        return 1;
    }
    return mul128(lots, lot_units, out);
}

/* locks.buy_release_on_fill: what a buy's lock shrinks by when `lots` of it fill (`filled`
 * already counts them; the unit is `price` x `notional_units`), in 128 bits (0: it
 * overflows). */
int
buy_release_on_fill(long long price, long long quantity, long long filled, long long lots,
                    long long notional_units, long long lock_rate, i128 *out)
{
    i128 unit, after, more, before, after_fee, before_fee;
    if (!mul128(price, notional_units, &unit) || !mul128((i128)quantity - filled, unit, &after) ||
        !mul128(lots, unit, &more) || __builtin_add_overflow(after, more, &before) ||
        !mul128(before, lock_rate, &before_fee) || !mul128(after, lock_rate, &after_fee)) {
        return 0;
    }
    *out = before + floordiv(before_fee, RATE_SCALE) - after - floordiv(after_fee, RATE_SCALE);
    return 1;
}
