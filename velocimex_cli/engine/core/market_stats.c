/* market_stats.c <-> market_stats.py: a market's last price and rolling 24-hour volume.
 *
 * The MarketStats object stays the Python one; this records a trade in it from C.
 */
#include "_native.h"

/* market_stats.MarketStats.record(now, price, lots), with MarketStats.expire inline. */
int
stats_record(PyObject *stats, long long now, PyObject *price, PyObject *lots)
{
    int rc = -1;
    PyObject *trades = NULL, *volume = NULL, *horizon = NULL, *entry = NULL, *r = NULL;
    if (PyObject_SetAttr(stats, s_last_price, price) < 0) {
        return -1;
    }
    trades = PyObject_GetAttr(stats, s_trades);
    if (trades == NULL) {
        return -1;
    }
    entry = Py_BuildValue("(LO)", now, lots);
    if (entry == NULL) {
        goto done;
    }
    r = PyObject_CallMethodOneArg(trades, s_append, entry);
    Py_CLEAR(entry);
    if (r == NULL) {
        goto done;
    }
    Py_CLEAR(r);
    volume = PyObject_GetAttr(stats, s_volume);
    if (volume == NULL) {
        goto done;
    }
    Py_SETREF(volume, PyNumber_Add(volume, lots));
    horizon = volume == NULL ? NULL : pylong_from_i128((i128)now - 86400LL * 1000000LL);
    if (horizon == NULL) {
        goto done;
    }
    for (;;) { /* MarketStats.expire */
        Py_ssize_t size = PyObject_Length(trades);
        if (size < 0) {
            goto done;
        }
        if (size == 0) {
            break;
        }
        entry = PySequence_GetItem(trades, 0);
        PyObject *when = entry == NULL ? NULL : PySequence_GetItem(entry, 0);
        Py_CLEAR(entry);
        if (when == NULL) {
            goto done;
        }
        int old = PyObject_RichCompareBool(when, horizon, Py_LE);
        Py_DECREF(when);
        if (old < 0) {
            goto done;
        }
        if (!old) {
            break;
        }
        entry = PyObject_CallMethodNoArgs(trades, s_popleft);
        PyObject *gone = entry == NULL ? NULL : PySequence_GetItem(entry, 1);
        Py_CLEAR(entry);
        if (gone == NULL) {
            goto done;
        }
        Py_SETREF(volume, PyNumber_Subtract(volume, gone));
        Py_DECREF(gone);
        if (volume == NULL) {
            goto done;
        }
    }
    rc = PyObject_SetAttr(stats, s_volume, volume);
done:
    Py_XDECREF(trades);
    Py_XDECREF(volume);
    Py_XDECREF(horizon);
    return rc;
}
