/* locks.c <-> locks.py: what an order locks while live, and what a fill releases.
 *
 * In 128 bits: each returns 0 when the value overflows even that (the caller hands the
 * command back to Python, whose ints are exact).
 */
#include "_native.h"

/* The instrument asked about last and its own rates (a reference keeps it, so the pointer
 * cannot name another object while kept). */
static PyObject *rates_instrument;
static OwnRates rates_kept;

/* (no Python twin) An instrument's own fee rates, instruments.Instrument's maker_rate,
 * taker_rate and lock_rate (`own` 0: it has none, the exchange's apply). An Instrument is
 * frozen, so the rates of the one asked about last are kept instead of read again: three
 * attribute reads a command less on the engine path. FAST_OK, FAST_FALLBACK (beyond int64),
 * or -1. */
int
own_rates_of(PyObject *instrument, const OwnRates **out)
{
    if (instrument != rates_instrument) {
        OwnRates read = {0, 0, 0, 0};
        PyObject *names[3] = {s_maker_rate, s_taker_rate, s_lock_rate};
        long long *values[3] = {&read.maker, &read.taker, &read.lock};
        for (int i = 0; i < 3; i++) {
            PyObject *rate = PyObject_GetAttr(instrument, names[i]);
            if (rate == NULL) {
                return -1;
            }
            int rc = rate == Py_None ? FAST_OK : get_ll(rate, values[i]);
            read.own = rate != Py_None;
            Py_DECREF(rate);
            if (rc != FAST_OK) {
                return rc;
            }
            if (!read.own) {
                break; /* both own rates or neither (Instrument.__post_init__) */
            }
        }
        Py_INCREF(instrument);
        Py_XSETREF(rates_instrument, instrument);
        rates_kept = read;
    }
    *out = &rates_kept;
    return FAST_OK;
}

/* locks.lock_rate_of: the fee rate a buy on `instrument` locks, its own (a mirrored venue's) or
 * else `exchange_rate` (FAST_FALLBACK: beyond int64). */
int
lock_rate_of(PyObject *instrument, long long exchange_rate, long long *out)
{
    const OwnRates *rates;
    int rc = own_rates_of(instrument, &rates);
    if (rc == FAST_OK) {
        *out = rates->own ? rates->lock : exchange_rate;
    }
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
