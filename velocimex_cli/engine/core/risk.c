/* risk.c <-> risk.py: an account's pre-trade risk limits. */
#include "_native.h"

/* risk.check on int64 numbers: FAST_OK if the order breaks no limit, FAST_FALLBACK if it
 * breaks one (the Python check raises the error, with its message) or a number is beyond
 * int64, or -1. With max_orders_per_second set, `*recent_out` is the window to record the
 * order in (risk.record) and `*now_out` the time. */
int
risk_passes(Command *c, PyObject *risk, BookObject *book, int buy, PyObject *price,
            long long ticks, long long lots, long long notional_units, int may_rest,
            PyObject *account, PyObject **recent_out, long long *now_out)
{
    PyObject *limits = PyObject_GetAttr(risk, s_limits);
    if (limits == NULL) {
        return -1;
    }
    PyObject *names[4] = {s_price_band_bps, s_max_order_notional, s_max_open_orders,
                          s_max_orders_per_second};
    long long values[4];
    int set[4];
    int rc = FAST_OK;
    for (int i = 0; i < 4 && rc == FAST_OK; i++) {
        PyObject *value = PyObject_GetAttr(limits, names[i]);
        if (value == NULL) {
            rc = -1;
            break;
        }
        set[i] = value != Py_None;
        if (set[i]) {
            rc = get_ll(value, &values[i]);
        }
        Py_DECREF(value);
    }
    Py_DECREF(limits);
    if (rc != FAST_OK) {
        return rc;
    }
    int has_bid, has_ask;
    long long bid = best_price(book, 0, &has_bid), ask = best_price(book, 1, &has_ask);
    i128 left, right, v;
    if (set[0] && price != Py_None && has_bid && has_ask) {
        i128 mid_x2 = (i128)bid + ask;
        i128 factor = buy ? (i128)10000 + values[0] : (i128)10000 - values[0];
        if (!mul128(ticks, 20000, &left) || !mul128(mid_x2, factor, &right)) {
            return FAST_FALLBACK;
        }
        if (buy ? left > right : left < right) {
            return FAST_FALLBACK;
        }
    }
    if (set[1]) {
        int has_reference = price != Py_None || (buy ? has_ask : has_bid);
        long long reference = price != Py_None ? ticks : (buy ? ask : bid);
        if (has_reference) {
            if (!mul128(reference, lots, &v) || !mul128(v, notional_units, &v) ||
                v > values[1]) {
                return FAST_FALLBACK;
            }
        }
    }
    if (set[2] && may_rest) {
        long long open_orders;
        rc = attr_ll(account, s_open_orders, &open_orders);
        if (rc != FAST_OK) {
            return rc;
        }
        if (open_orders >= values[2]) {
            return FAST_FALLBACK;
        }
    }
    if (set[3]) {
        if (command_micros(c, now_out) < 0) {
            return -1;
        }
        PyObject *recent = PyObject_GetAttr(risk, s_recent);
        if (recent == NULL) {
            return -1;
        }
        PyObject *horizon = pylong_from_i128((i128)*now_out - 1000000);
        rc = horizon == NULL ? -1 : FAST_OK;
        while (rc == FAST_OK) {
            Py_ssize_t size = PyObject_Length(recent);
            if (size <= 0) {
                rc = size < 0 ? -1 : FAST_OK;
                break;
            }
            PyObject *first = PySequence_GetItem(recent, 0);
            int old = first == NULL ? -1 : PyObject_RichCompareBool(first, horizon, Py_LE);
            Py_XDECREF(first);
            if (old <= 0) {
                rc = old;
                break;
            }
            PyObject *gone = PyObject_CallMethodNoArgs(recent, s_popleft);
            rc = gone == NULL ? -1 : FAST_OK;
            Py_XDECREF(gone);
        }
        Py_XDECREF(horizon);
        Py_ssize_t size = rc == FAST_OK ? PyObject_Length(recent) : -1;
        if (size < 0) {
            Py_DECREF(recent);
            return -1;
        }
        if (size >= values[3]) {
            Py_DECREF(recent);
            return FAST_FALLBACK;
        }
        *recent_out = recent;
    }
    return FAST_OK;
}
