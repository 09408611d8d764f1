/* commands.c <-> commands.py: a command's life in the engine path (the Commands mixin).
 *
 * A Command holds what one command reads of the Exchange (its __dict__, the store's Changes,
 * the listeners' wishes) for its duration. Only the cases the engine path runs are here: no
 * book events are built (hand_backs.c hands those commands back), so finishing a command is
 * bumping the changed books' sequences, handing its events on and committing.
 */
#include "_native.h"

/* (no Python twin: a Command's references, dropped at the end of a command) */
void
command_clear(Command *c)
{
    Py_CLEAR(c->exd);
    Py_CLEAR(c->changes);
    Py_CLEAR(c->changes_balances);
    Py_CLEAR(c->changes_orders);
    Py_CLEAR(c->changes_fills);
    Py_CLEAR(c->changes_positions);
    Py_CLEAR(c->changes_trades);
    Py_CLEAR(c->events);
    Py_CLEAR(c->interested);
}

/* commands.Commands._emit_order for an order of the command's account: built only if wanted. */
int
command_emit_order(Command *c, OrderObject *order, PyObject *event)
{
    if (!c->own) {
        return 0;
    }
    PyObject *built = PyObject_CallFunctionObjArgs(E.order_event, (PyObject *)order, event, NULL);
    int rc = built == NULL ? -1 : PyList_Append(c->events, built);
    Py_XDECREF(built);
    return rc;
}

/* commands.Commands._begin's reads, before anything changes: the Exchange's state a command of
 * `account` needs. FAST_OK, FAST_FALLBACK (hand_backs.c's hand_back_command_state,
 * hand_back_listeners or hand_back_changes say why, or a number is beyond int64), or -1. */
int
command_open(Command *c, PyObject *exchange, PyObject *account)
{
    memset(c, 0, sizeof(*c));
    c->exchange = exchange;
    c->exd = PyObject_GenericGetDict(exchange, NULL);
    if (c->exd == NULL) {
        return -1;
    }
    PyObject *listeners = ex_get(c->exd, s__listeners);
    PyObject *events = listeners == NULL ? NULL : ex_get(c->exd, s__events);
    if (events == NULL) {
        return -1;
    }
    int rc = hand_back_command_state(listeners, events);
    if (rc != FAST_OK) {
        return rc;
    }
    if (PyList_GET_SIZE(listeners) != 0) {
        rc = hand_back_listeners(c, account);
        if (rc != FAST_OK) {
            return rc;
        }
    }
    rc = ex_get_ll(c->exd, s__lock_rate, &c->lock_rate);
    if (rc != FAST_OK) {
        return rc;
    }
    PyObject *changes = ex_get(c->exd, s__changes);
    if (changes == NULL) {
        return -1;
    }
    c->changes = Py_NewRef(changes);
    if (changes != Py_None) {
        c->changes_balances = PyObject_GetAttr(changes, s_balances);
        c->changes_orders = PyObject_GetAttr(changes, s_orders);
        c->changes_fills = PyObject_GetAttr(changes, s_fills);
        c->changes_positions = PyObject_GetAttr(changes, s_positions);
        c->changes_trades = PyObject_GetAttr(changes, s_trades);
        if (c->changes_balances == NULL || c->changes_orders == NULL ||
            c->changes_fills == NULL || c->changes_positions == NULL ||
            c->changes_trades == NULL) {
            return -1;
        }
        return hand_back_changes(c);
    }
    return FAST_OK;
}

/* commands.Commands._micros: a MicrosClock's `micros`, else the clock's microseconds, converted
 * once per datetime it returns. */
int
command_micros(Command *c, long long *out)
{
    PyObject *source = ex_get(c->exd, s__micros_clock);
    if (source == NULL) {
        return -1;
    }
    if (source != Py_None) {
        int rc = attr_ll(source, s_micros, out);
        if (rc == FAST_FALLBACK) {
            PyErr_SetString(PyExc_OverflowError, "the clock is beyond 64-bit microseconds");
            return -1;
        }
        return rc;
    }
    PyObject *clock = ex_get(c->exd, s_clock);
    if (clock == NULL) {
        return -1;
    }
    PyObject *moment = PyObject_CallNoArgs(clock);
    if (moment == NULL) {
        return -1;
    }
    PyObject *last = ex_get(c->exd, s__moment);
    if (last == NULL) {
        Py_DECREF(moment);
        return -1;
    }
    if (moment != last) {
        PyObject *micros = PyObject_CallOneArg(E.to_micros, moment);
        if (micros == NULL || PyDict_SetItem(c->exd, s__moment, moment) < 0 ||
            PyDict_SetItem(c->exd, s__moment_micros, micros) < 0) {
            Py_XDECREF(micros);
            Py_DECREF(moment);
            return -1;
        }
        Py_DECREF(micros);
    }
    Py_DECREF(moment);
    PyObject *micros = ex_get(c->exd, s__moment_micros);
    if (micros == NULL) {
        return -1;
    }
    int rc = get_ll(micros, out);
    if (rc == FAST_FALLBACK) {
        PyErr_SetString(PyExc_OverflowError, "the clock is beyond 64-bit microseconds");
        return -1;
    }
    return rc;
}

/* commands.Commands._begin: with listeners, the command's events are collected in `c->events` (also
 * the Exchange's `_events`, for the Python fill loop `settle_fills` may hand fills to). */
int
command_begin(Command *c, long long *now)
{
    if (command_micros(c, now) < 0) {
        return -1;
    }
    if (c->events != NULL && PyDict_SetItem(c->exd, s__events, c->events) < 0) {
        return -1;
    }
    return ex_set_ll(c->exd, s__now, *now);
}

/* commands.Commands._touch_book without book events: note the book, no best prices needed. */
int
command_touch(Command *c, PyObject *index)
{
    PyObject *books = ex_get(c->exd, s__command_books);
    if (books == NULL) {
        return -1;
    }
    int has = PyDict_Contains(books, index);
    if (has != 0) {
        return has < 0 ? -1 : 0;
    }
    return PyDict_SetItem(books, index, Py_None);
}

/* commands.Commands._finish (and _commit) without book events: bump the changed books'
 * sequences, hand the command's events (its trades) on, then commit. */
int
command_finish(Command *c)
{
    PyObject *command_books = ex_get(c->exd, s__command_books);
    PyObject *books = command_books == NULL ? NULL : ex_get(c->exd, s_books);
    PyObject *traded = books == NULL ? NULL : ex_get(c->exd, s__traded);
    if (traded == NULL) {
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *index, *unused;
    while (PyDict_Next(command_books, &pos, &index, &unused)) {
        PyObject *book = PyObject_GetItem(books, index);
        if (book == NULL) {
            return -1;
        }
        if (Py_IS_TYPE(book, &BookType)) {
            BookObject *b = (BookObject *)book;
            if (b->changed) {
                b->sequence++;
                b->changed = 0;
            }
        }
        else {
            PyErr_SetString(PyExc_TypeError, "the engine's books must be native OrderBooks");
            Py_DECREF(book);
            return -1;
        }
        Py_DECREF(book);
    }
    if (PySet_Clear(traded) < 0) {
        return -1;
    }
    PyDict_Clear(command_books);
    PyObject *schedule = ex_get(c->exd, s__schedule_flush);
    PyObject *pending = schedule == NULL ? NULL : ex_get(c->exd, s__pending_events);
    if (pending == NULL) {
        return -1;
    }
    if (c->events != NULL) {
        if (PyDict_SetItem(c->exd, s__events, Py_None) < 0) {
            return -1;
        }
        Py_ssize_t count = PyList_GET_SIZE(c->events);
        if (count != 0) {
            if (!PyList_CheckExact(pending)) {
                PyErr_SetString(PyExc_TypeError, "the pending events must be a list");
                return -1;
            }
            Py_ssize_t end = PyList_GET_SIZE(pending);
            if (PyList_SetSlice(pending, end, end, c->events) < 0) {
                return -1;
            }
        }
    }
    if (schedule == Py_None && c->changes == Py_None && PyList_CheckExact(pending) &&
        PyList_GET_SIZE(pending) == 0) {
        return PyDict_SetItem(c->exd, s__flush_pending, Py_False); /* what flush() does */
    }
    PyObject *r = PyObject_CallMethodNoArgs(c->exchange, s__commit);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* commands.Commands._order_closed: an order that ended leaves a simulated account (a user's
 * keeps its history) and goes into the command's changes. */
int
order_closed(Command *c, PyObject *account, OrderObject *order)
{
    PyObject *kind = PyObject_GetAttr(account, s_kind);
    if (kind == NULL) {
        return -1;
    }
    Py_DECREF(kind);
    if (kind != E.user) {
        PyObject *orders = PyObject_GetAttr(account, s_orders);
        PyObject *id = orders == NULL ? NULL : PyLong_FromLongLong(order->id);
        if (id == NULL) {
            Py_XDECREF(orders);
            return -1;
        }
        int rc = PyDict_Contains(orders, id);
        if (rc > 0) {
            rc = PyDict_DelItem(orders, id);
        }
        Py_DECREF(id);
        Py_DECREF(orders);
        if (rc < 0) {
            return -1;
        }
    }
    if (c->changes_orders != NULL) {
        return dict_set_order(c->changes_orders, order);
    }
    return 0;
}
