/* event_values.c <-> drivers/strategies/event_values.py: the TradeTick an in-process strategy
 * gets for each public trade, built from the engine's TradeEvent.
 *
 * A backtest's strategy with an on_trade gets one per replayed print, so the tick is most of
 * what hosting it costs per trade: in Python, its timestamp's datetime alone (the constructor
 * parses eight arguments) and the named tuple (tuple.__new__ copies a tuple) cost more than
 * the strategy's own moving averages. Here each value is read or built once, with the same
 * kept values as the Python function (the instrument's prices and sizes in the same dicts,
 * event_values._values) and the same answer; tests/engine/drivers/strategies/
 * test_event_values.py compares the two on the same events. Calls only values.c.
 */
#include "../../core/_native.h"
#include <datetime.h>

/* What event_values.py hands over once (`_configure_ticks`), and the last moment built. */
static struct {
    PyTypeObject *tick_type;  /* context.TradeTick */
    PyTypeObject *trade_type; /* events.TradeEvent, whose fields are read from its slots: */
    Py_ssize_t at_instrument, at_price, at_lots, at_side, at_micros, at_trade_id;
    PyTypeObject *instrument_type; /* instruments.Instrument, likewise its index: */
    Py_ssize_t at_index;
    PyObject *values;         /* event_values._values: index -> (instrument, exchange, symbol,
                                 prices by ticks, sizes by lots) */
    PyObject *new_values;     /* event_values._instrument_values(instrument) -> that tuple */
    PyObject *side_names;     /* orders.SIDE_NAMES */
    PyObject *utc;            /* datetime.UTC */
    PyObject *from_seconds;   /* datetime.fromtimestamp */
    Py_ssize_t cached;        /* event_values._CACHED */
    PyObject *s_instrument, *s_index, *s_price, *s_lots, *s_side, *s_micros, *s_trade_id,
        *s_price_of, *s_quantity_of;
    int has_moment;
    long long moment_micros;
    PyObject *moment;         /* the datetime of moment_micros */
    int has_second;
    long long second;
    int fields[6];            /* year, month, day, hour, minute, second of `second` */
} T;

/* (no Python twin in engine/core: event_values.py's module-level set-up) `_configure_ticks(
 * TradeTick, values, new_values, SIDE_NAMES, UTC, fromtimestamp, cached, TradeEvent,
 * Instrument)`. */
PyObject *
ticks_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("_configure_ticks", nargs, 9) < 0) {
        return NULL;
    }
    if (!PyType_Check(args[0]) || !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type) ||
        !PyDict_CheckExact(args[1]) || !PyType_Check(args[7]) || !PyType_Check(args[8])) {
        PyErr_SetString(PyExc_TypeError, "_configure_ticks: a tuple type, a dict, two classes");
        return NULL;
    }
    PyTypeObject *trade_type = (PyTypeObject *)args[7], *instrument_type = (PyTypeObject *)args[8];
    if ((T.at_instrument = slot_offset(trade_type, "instrument")) < 0 ||
        (T.at_price = slot_offset(trade_type, "price")) < 0 ||
        (T.at_lots = slot_offset(trade_type, "lots")) < 0 ||
        (T.at_side = slot_offset(trade_type, "side")) < 0 ||
        (T.at_micros = slot_offset(trade_type, "micros")) < 0 ||
        (T.at_trade_id = slot_offset(trade_type, "trade_id")) < 0 ||
        (T.at_index = slot_offset(instrument_type, "index")) < 0) {
        return NULL;
    }
    Py_ssize_t cached = PyLong_AsSsize_t(args[6]);
    if (cached == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
#define TICKS_INTERN(field, text)                                                               \
    if (T.field == NULL && (T.field = PyUnicode_InternFromString(text)) == NULL) {            \
        return NULL;                                                                            \
    }
    TICKS_INTERN(s_instrument, "instrument")
    TICKS_INTERN(s_index, "index")
    TICKS_INTERN(s_price, "price")
    TICKS_INTERN(s_lots, "lots")
    TICKS_INTERN(s_side, "side")
    TICKS_INTERN(s_micros, "micros")
    TICKS_INTERN(s_trade_id, "trade_id")
    TICKS_INTERN(s_price_of, "price_of")
    TICKS_INTERN(s_quantity_of, "quantity_of")
#undef TICKS_INTERN
    Py_XSETREF(T.tick_type, (PyTypeObject *)Py_NewRef(args[0]));
    Py_XSETREF(T.trade_type, (PyTypeObject *)Py_NewRef(trade_type));
    Py_XSETREF(T.instrument_type, (PyTypeObject *)Py_NewRef(instrument_type));
    Py_XSETREF(T.values, Py_NewRef(args[1]));
    Py_XSETREF(T.new_values, Py_NewRef(args[2]));
    Py_XSETREF(T.side_names, Py_NewRef(args[3]));
    Py_XSETREF(T.utc, Py_NewRef(args[4]));
    Py_XSETREF(T.from_seconds, Py_NewRef(args[5]));
    T.cached = cached;
    T.has_moment = 0;
    T.has_second = 0;
    Py_CLEAR(T.moment);
    Py_RETURN_NONE;
}

/* event_values._trade_tick's `trade.<name>`: read from the slot at `offset` when `trade` is a
 * TradeEvent, else looked up. A new reference, or NULL. */
static PyObject *
trade_field(PyObject *trade, Py_ssize_t offset, PyObject *name)
{
    if (Py_TYPE(trade) == T.trade_type) {
        return slot_value(trade, offset, name);
    }
    return PyObject_GetAttr(trade, name);
}

/* event_values._trade_tick's `trade.instrument` and its `index`, as new references in
 * `*instrument` and `*index`; -1 with an exception set. */
static int
trade_instrument(PyObject *trade, PyObject **instrument, PyObject **index)
{
    *index = NULL;
    *instrument = trade_field(trade, T.at_instrument, T.s_instrument);
    if (*instrument == NULL) {
        return -1;
    }
    *index = Py_TYPE(*instrument) == T.instrument_type
                 ? slot_value(*instrument, T.at_index, T.s_index)
                 : PyObject_GetAttr(*instrument, T.s_index);
    if (*index == NULL) {
        Py_CLEAR(*instrument);
        return -1;
    }
    return 0;
}

/* event_values._trade_tick's kept value of `key` in `kept` (a price by ticks, a size by lots):
 * found, or `instrument.<convert>(key)` kept (the dict emptied first past `cached`). A new
 * reference, or NULL. */
static PyObject *
kept_value(PyObject *kept, PyObject *key, PyObject *instrument, PyObject *convert)
{
    PyObject *value = PyDict_GetItemWithError(kept, key);
    if (value != NULL) {
        return Py_NewRef(value);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (PyDict_GET_SIZE(kept) > T.cached) {
        PyDict_Clear(kept);
    }
    value = PyObject_CallMethodOneArg(instrument, convert, key);
    if (value == NULL || PyDict_SetItem(kept, key, value) < 0) {
        Py_XDECREF(value);
        return NULL;
    }
    return value;
}

/* event_values._trade_tick's moment: the datetime of `micros`, built from its second's fields
 * (kept) and the microseconds; the last one kept. A borrowed reference (T.moment), or NULL. */
static PyObject *
moment_of(long long micros)
{
    if (T.has_moment && T.moment_micros == micros) {
        return T.moment;
    }
    long long second = micros / 1000000, fraction = micros % 1000000;
    if (fraction < 0) { /* divmod's floor, as Python's */
        second -= 1;
        fraction += 1000000;
    }
    if (!T.has_second || T.second != second) {
        PyObject *seconds = PyLong_FromLongLong(second);
        PyObject *at = seconds == NULL
                           ? NULL
                           : PyObject_CallFunctionObjArgs(T.from_seconds, seconds, T.utc, NULL);
        Py_XDECREF(seconds);
        if (at == NULL) {
            return NULL;
        }
        if (!PyDateTime_Check(at)) {
            Py_DECREF(at);
            PyErr_SetString(PyExc_TypeError, "fromtimestamp gave no datetime");
            return NULL;
        }
        T.fields[0] = PyDateTime_GET_YEAR(at);
        T.fields[1] = PyDateTime_GET_MONTH(at);
        T.fields[2] = PyDateTime_GET_DAY(at);
        T.fields[3] = PyDateTime_DATE_GET_HOUR(at);
        T.fields[4] = PyDateTime_DATE_GET_MINUTE(at);
        T.fields[5] = PyDateTime_DATE_GET_SECOND(at);
        Py_DECREF(at);
        T.second = second;
        T.has_second = 1;
    }
    PyObject *moment = PyDateTimeAPI->DateTime_FromDateAndTime(
        T.fields[0], T.fields[1], T.fields[2], T.fields[3], T.fields[4], T.fields[5],
        (int)fraction, T.utc, PyDateTimeAPI->DateTimeType);
    if (moment == NULL) {
        return NULL;
    }
    Py_XSETREF(T.moment, moment);
    T.moment_micros = micros;
    T.has_moment = 1;
    return moment;
}

/* event_values._trade_tick: the TradeTick of the engine's TradeEvent `trade`. */
PyObject *
trade_tick(PyObject *module, PyObject *trade)
{
    (void)module;
    if (T.tick_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "trade_tick before _configure_ticks");
        return NULL;
    }
    PyObject *instrument = NULL, *index = NULL, *cache = NULL, *ticks = NULL, *lots = NULL;
    PyObject *price = NULL, *size = NULL, *micros_obj = NULL, *trade_id = NULL, *id_text = NULL;
    PyObject *side = NULL, *side_name = NULL, *tick = NULL;
    long long micros;
    if (trade_instrument(trade, &instrument, &index) < 0) {
        goto done;
    }
    cache = PyDict_GetItemWithError(T.values, index);
    if (cache != NULL && PyTuple_CheckExact(cache) && PyTuple_GET_SIZE(cache) == 5 &&
        PyTuple_GET_ITEM(cache, 0) == instrument) {
        Py_INCREF(cache);
    } else if (PyErr_Occurred()) {
        cache = NULL;
        goto done;
    } else {
        cache = PyObject_CallOneArg(T.new_values, instrument);
        if (cache == NULL) {
            goto done;
        }
        if (!PyTuple_CheckExact(cache) || PyTuple_GET_SIZE(cache) != 5 ||
            !PyDict_CheckExact(PyTuple_GET_ITEM(cache, 3)) ||
            !PyDict_CheckExact(PyTuple_GET_ITEM(cache, 4))) {
            PyErr_SetString(PyExc_TypeError, "_instrument_values gave no (.., .., .., {}, {})");
            goto done;
        }
    }
    if ((ticks = trade_field(trade, T.at_price, T.s_price)) == NULL ||
        (price = kept_value(PyTuple_GET_ITEM(cache, 3), ticks, instrument, T.s_price_of)) ==
            NULL ||
        (lots = trade_field(trade, T.at_lots, T.s_lots)) == NULL ||
        (size = kept_value(PyTuple_GET_ITEM(cache, 4), lots, instrument, T.s_quantity_of)) ==
            NULL ||
        (micros_obj = trade_field(trade, T.at_micros, T.s_micros)) == NULL ||
        as_int64(micros_obj, &micros) < 0 ||
        (trade_id = trade_field(trade, T.at_trade_id, T.s_trade_id)) == NULL ||
        (id_text = int_text(trade_id)) == NULL ||
        (side = trade_field(trade, T.at_side, T.s_side)) == NULL ||
        (side_name = PyObject_GetItem(T.side_names, side)) == NULL) {
        goto done;
    }
    PyObject *moment = moment_of(micros);
    if (moment == NULL) {
        goto done;
    }
    /* tuple.__new__(TradeTick, (...)): the subtype's own allocation, its items set. */
    tick = T.tick_type->tp_alloc(T.tick_type, 7);
    if (tick == NULL) {
        goto done;
    }
    PyTuple_SET_ITEM(tick, 0, Py_NewRef(PyTuple_GET_ITEM(cache, 1)));
    PyTuple_SET_ITEM(tick, 1, Py_NewRef(PyTuple_GET_ITEM(cache, 2)));
    PyTuple_SET_ITEM(tick, 2, Py_NewRef(id_text));
    PyTuple_SET_ITEM(tick, 3, Py_NewRef(price));
    PyTuple_SET_ITEM(tick, 4, Py_NewRef(size));
    PyTuple_SET_ITEM(tick, 5, Py_NewRef(side_name));
    PyTuple_SET_ITEM(tick, 6, Py_NewRef(moment));
done:
    Py_XDECREF(instrument);
    Py_XDECREF(index);
    Py_XDECREF(cache);
    Py_XDECREF(ticks);
    Py_XDECREF(lots);
    Py_XDECREF(price);
    Py_XDECREF(size);
    Py_XDECREF(micros_obj);
    Py_XDECREF(trade_id);
    Py_XDECREF(id_text);
    Py_XDECREF(side);
    Py_XDECREF(side_name);
    return tick;
}
