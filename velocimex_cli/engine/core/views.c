/* views.c <-> views.py: the wire dict of an order (order_wire), which every order event, every
 * answer to a placement or a cancel and every in-process strategy's OrderInfo is built from.
 *
 * Only the C Order is read here; anything else (an orders.PyOrder) goes to the Python function.
 * The average price and the timestamps are views.average_price and wire.timefmt.iso_from_micros,
 * called here; tests/engine/core/test_native_views.py compares this with the Python function.
 */
#include "_native.h"

/* What views.py hands over once at its import (views_configure). */
static struct {
    PyObject *wire_name;       /* orders.WIRE_NAME: enum member -> wire text */
    PyObject *side_names;      /* orders.SIDE_NAMES */
    PyObject *limit;           /* orders.LIMIT */
    PyObject *iso_from_micros; /* wire.timefmt.iso_from_micros */
    PyObject *average_price;   /* views.average_price */
    PyObject *python;          /* views.python_order_wire: the reference, for a PyOrder */
    PyObject *keys;            /* the wire dict's keys in order, each to None: copied */
    long long last_micros;     /* the last time iso_of turned into text, and the text */
    PyObject *last_text;
} V;

/* views.py's `_native._configure_views(WIRE_NAME, SIDE_NAMES, LIMIT, iso_from_micros,
 * average_price, python_order_wire)`: what order_wire reads, set once at views.py's import. */
PyObject *
views_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("_configure_views", nargs, 6) < 0) {
        return NULL;
    }
    if (!PyDict_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "_configure_views: WIRE_NAME must be a dict, SIDE_NAMES a tuple");
        return NULL;
    }
    PyObject **slots[6] = {&V.wire_name,       &V.side_names,    &V.limit,
                           &V.iso_from_micros, &V.average_price, &V.python};
    PyObject *names[16] = {s_order_id,      s_client_order_id, s_timestamp,   s_exchange,
                           s_symbol,        s_side,            s_type,        s_time_in_force,
                           s_post_only,     s_quantity,        s_price,       s_filled_quantity,
                           s_average_price, s_status,          s_reason,      s_updated_at};
    PyObject *keys = PyDict_New();
    for (int i = 0; keys != NULL && i < 16; i++) {
        if (PyDict_SetItem(keys, names[i], Py_None) < 0) {
            Py_CLEAR(keys);
        }
    }
    if (keys == NULL) {
        return NULL;
    }
    Py_XSETREF(V.keys, keys);
    for (int i = 0; i < 6; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    }
    Py_CLEAR(V.last_text);
    Py_RETURN_NONE;
}

/* views.python_order_wire's `WIRE_NAME[member]` (a KeyError for a member it lacks). */
static PyObject *
wire_name_of(PyObject *member)
{
    PyObject *name = PyDict_GetItemWithError(V.wire_name, member);
    if (name == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_KeyError, member);
    }
    return name; /* borrowed */
}

/* instruments.Instrument.quantity_of / price_of: `n * step` (the int converted exactly). */
static PyObject *
steps_of(long long n, PyObject *step)
{
    PyObject *number = PyLong_FromLongLong(n);
    if (number == NULL) {
        return NULL;
    }
    PyObject *value = PyNumber_Multiply(number, step);
    Py_DECREF(number);
    return value;
}

/* views.python_order_wire's `iso_from_micros(micros)`; the last answer kept, as that function
 * keeps it (a command's events and its answer stamp the same time). */
static PyObject *
iso_of(long long micros)
{
    if (V.last_text != NULL && V.last_micros == micros) {
        return Py_NewRef(V.last_text);
    }
    PyObject *number = PyLong_FromLongLong(micros);
    if (number == NULL) {
        return NULL;
    }
    PyObject *text = PyObject_CallOneArg(V.iso_from_micros, number);
    Py_DECREF(number);
    if (text != NULL) {
        Py_XSETREF(V.last_text, Py_NewRef(text));
        V.last_micros = micros;
    }
    return text;
}

/* views.python_order_wire: the reference's Order format plus the documented extensions, key
 * for key in the same order. */
PyObject *
order_wire(PyObject *module, PyObject *arg)
{
    (void)module;
    if (V.python == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "order_wire is not configured: import "
                                            "velocimex_cli.engine.core.views");
        return NULL;
    }
    if (!Order_Check(arg)) {
        return PyObject_CallOneArg(V.python, arg);
    }
    OrderObject *order = (OrderObject *)arg;
    PyObject *instrument = order->instrument;
    PyObject *wire = NULL, *created = NULL, *id = NULL, *venue = NULL, *exchange = NULL;
    PyObject *symbol = NULL, *lot_size = NULL, *quantity = NULL, *price = NULL;
    PyObject *filled = NULL, *average = NULL, *updated = NULL;
    PyObject *side = NULL, *type = NULL, *tif = NULL, *status = NULL, *reason = NULL;
    created = iso_of(order->created);
    id = created == NULL ? NULL : PyUnicode_FromFormat("%lld", order->id);
    venue = id == NULL ? NULL : PyObject_GetAttr(instrument, s_venue);
    exchange = venue == NULL ? NULL : PyObject_GetAttr(venue, s_name);
    symbol = exchange == NULL ? NULL : PyObject_GetAttr(instrument, s_symbol);
    if (symbol == NULL) {
        goto done;
    }
    side = PySequence_GetItem(V.side_names, (Py_ssize_t)order->side);
    type = side == NULL ? NULL : wire_name_of(order->type);
    tif = type == NULL ? NULL : wire_name_of(order->tif);
    lot_size = tif == NULL ? NULL : PyObject_GetAttr(instrument, s_lot_size);
    quantity = lot_size == NULL ? NULL : steps_of(order->quantity, lot_size);
    if (quantity == NULL) {
        goto done;
    }
    if (order->type == V.limit) {
        PyObject *tick_size = PyObject_GetAttr(instrument, s_tick_size);
        price = tick_size == NULL ? NULL : steps_of(order->price, tick_size);
        Py_XDECREF(tick_size);
    }
    else {
        price = Py_NewRef(Py_None);
    }
    filled = price == NULL ? NULL : steps_of(order->filled, lot_size);
    if (filled == NULL) {
        goto done;
    }
    if (order->filled) {
        PyObject *lots = PyLong_FromLongLong(order->filled);
        average = lots == NULL ? NULL
                               : PyObject_CallFunctionObjArgs(V.average_price, instrument,
                                                              order->filled_notional, lots, NULL);
        Py_XDECREF(lots);
    }
    else {
        average = Py_NewRef(Py_None);
    }
    status = average == NULL ? NULL : wire_name_of(order->status);
    reason = status == NULL ? NULL : wire_name_of(order->reason);
    if (reason == NULL) {
        goto done;
    }
    updated = order->updated == order->created ? Py_NewRef(created) : iso_of(order->updated);
    /* A copy of the keys in order (sized once), each then set: the keys are the strings of
     * the dict views.python_order_wire writes, interned. */
    wire = updated == NULL ? NULL : PyDict_Copy(V.keys);
    if (wire == NULL) {
        goto done;
    }
    PyObject *values[16] = {id,      order->client_id, created, exchange, symbol,           side,
                            type,    tif,              order->post_only,  quantity,         price,
                            filled,  average,          status,  reason,   updated};
    Py_ssize_t pos = 0;
    PyObject *key, *unused;
    for (int i = 0; i < 16 && PyDict_Next(V.keys, &pos, &key, &unused); i++) {
        if (PyDict_SetItem(wire, key, values[i]) < 0) {
            Py_CLEAR(wire);
            break;
        }
    }
done:
    Py_XDECREF(created);
    Py_XDECREF(id);
    Py_XDECREF(venue);
    Py_XDECREF(exchange);
    Py_XDECREF(symbol);
    Py_XDECREF(side);
    Py_XDECREF(lot_size);
    Py_XDECREF(quantity);
    Py_XDECREF(price);
    Py_XDECREF(filled);
    Py_XDECREF(average);
    Py_XDECREF(updated);
    return wire;
}
