/* matching.c <-> matching.py: executing an order that passed its checks (match it, then rest,
 * fill or cancel it), releasing a live order's lock, canceling one (the Matching mixin).
 *
 * The matching itself (price-time priority) is book_levels.c's book_take_fills; the settlement of its
 * fills is settlement.c; the self-trade cancels are self_trade.py's cancel_makers, inline here.
 */
#include "_native.h"

/* matching.Matching._release: end a live order, unlocking what it still holds. */
int
order_release(Command *c, PyObject *account, OrderObject *order, PyObject *reason,
              PyObject *status)
{
    PyObject *instrument = order->instrument;
    PyObject *asset = PyObject_GetAttr(instrument, order->side == BUY ? s_quote : s_base);
    if (asset == NULL) {
        return -1;
    }
    int rc = -1;
    long long units;
    PyObject *balances = NULL, *entry;
    PyObject *name = NULL;
    i128 lock;
    int fit = attr_ll(instrument, order->side == BUY ? s_notional_units : s_lot_units, &units);
    if (fit < 0) {
        goto done;
    }
    balances = PyObject_GetAttr(account, s_balances);
    if (balances == NULL) {
        goto done;
    }
    entry = PyObject_GetItem(balances, asset);
    if (entry == NULL) {
        goto done;
    }
    Py_DECREF(entry); /* the dict keeps it */
    if (fit == FAST_OK && PyList_CheckExact(entry) && PyList_GET_SIZE(entry) == 2 &&
        lock_for_lots(order->side, order->price, order->quantity - order->filled, units, units,
                      c->lock_rate, &lock)) {
        if (list_add(entry, 1, -lock) < 0) {
            goto done;
        }
    }
    else { /* beyond 128 bits: Python's ints */
        PyErr_SetString(PyExc_OverflowError, "a lock beyond 128 bits");
        goto done;
    }
    order_set_status(order, status);
    order_set_reason(order, reason);
    long long now;
    if (ex_get_ll(c->exd, s__now, &now) != FAST_OK) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_OverflowError, "the engine time is beyond 64 bits");
        }
        goto done;
    }
    order->updated = now;
    if (order_closed(c, account, order) < 0) {
        goto done;
    }
    if (c->changes_balances != NULL) {
        name = PyObject_GetAttr(account, s_name);
        if (name == NULL || set_add_pair(c->changes_balances, name, asset) < 0 ||
            dict_set_order(c->changes_orders, order) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(name);
    Py_XDECREF(balances);
    Py_DECREF(asset);
    return rc;
}

/* matching.Matching._execute after the checks (native_path.c's engine_place made them): the
 * command cannot fail from here. `reject` (NULL or a Reason: NO_LIQUIDITY) is _execute's: a
 * rejected order is created and closed at once, locking nothing (`balance`, `required` and
 * `asset` are then unused). */
int
place_execute(Command *c, PyObject *account, OrderObject *order, BookObject *book,
              PyObject *index, PyObject *balance, i128 required, PyObject *asset,
              PyObject *reject)
{
    long long now;
    int rc = -1;
    PyObject *name = NULL, *orders = NULL, *self_trades = NULL, *fills = NULL;
    if (command_begin(c, &now) < 0) {
        return -1;
    }
    order->created = order->updated = now;
    if (ex_set_ll(c->exd, s_next_order_id, order->id + 1) < 0) {
        return -1;
    }
    orders = PyObject_GetAttr(account, s_orders);
    if (orders == NULL || dict_set_order(orders, order) < 0) {
        goto done;
    }
    if (order->client_id != Py_None) {
        PyObject *client_ids = PyObject_GetAttr(account, s_client_ids);
        PyObject *id = client_ids == NULL ? NULL : PyLong_FromLongLong(order->id);
        int failed = id == NULL || PyObject_SetItem(client_ids, order->client_id, id) < 0;
        Py_XDECREF(id);
        Py_XDECREF(client_ids);
        if (failed) {
            goto done;
        }
    }
    if (command_touch(c, index) < 0) {
        goto done;
    }
    if (reject != NULL) {
        order_set_status(order, E.rejected);
        order_set_reason(order, reject);
        if (order_closed(c, account, order) < 0 ||
            command_emit_order(c, order, s_rejected_event) < 0) {
            goto done;
        }
        rc = command_finish(c);
        goto done;
    }
    if (list_add(balance, 1, required) < 0) {
        goto done;
    }
    name = PyObject_GetAttr(account, s_name);
    if (name == NULL ||
        (c->changes_balances != NULL && set_add_pair(c->changes_balances, name, asset) < 0) ||
        command_emit_order(c, order, s_accepted) < 0) {
        goto done;
    }
    int found;
    long long best = best_price(book, order->side == BUY ? 1 : 0, &found);
    if (!found || (order->side == BUY ? best > order->price : best < order->price)) {
        goto matched; /* book.take would stop before its first level, changing nothing */
    }
    self_trades = PyList_New(0);
    fills = self_trades == NULL ? NULL
                                : book_take_fills(book, order->side, name, order->price,
                                                  order->quantity, self_trades);
    if (fills == NULL) {
        goto done;
    }
    if (PyList_GET_SIZE(self_trades) != 0) { /* self_trade.cancel_makers, inline */
        PyObject *ledger = ex_get(c->exd, s_ledger);
        PyObject *accounts = ledger == NULL ? NULL : PyObject_GetAttr(ledger, s_accounts);
        if (accounts == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self_trades); i++) {
            OrderObject *maker = (OrderObject *)PyList_GET_ITEM(self_trades, i);
            PyObject *owner = PyObject_GetItem(accounts, maker->account);
            int failed = owner == NULL || attr_add(owner, s_open_orders, -1) < 0 ||
                         order_release(c, owner, maker, E.self_trade, E.canceled) < 0 ||
                         command_emit_order(c, maker, s_canceled_event) < 0;
            Py_XDECREF(owner);
            if (failed) {
                Py_DECREF(accounts);
                goto done;
            }
        }
        Py_DECREF(accounts);
    }
    if (PyList_GET_SIZE(fills) != 0 && settle_fills(c, account, order, fills) < 0) {
        goto done;
    }
matched:
    if (order->filled == order->quantity) {
        order_set_status(order, E.filled);
        if (order_closed(c, account, order) < 0 ||
            command_emit_order(c, order, s_filled_event) < 0) {
            goto done;
        }
    }
    else if (order->tif == E.gtc) {
        if (book_rest_order(book, order) < 0 || attr_add(account, s_open_orders, 1) < 0) {
            goto done;
        }
        if (order->filled) {
            order_set_status(order, E.partially_filled);
            if (command_emit_order(c, order, s_partially_filled_event) < 0) {
                goto done;
            }
        }
    }
    else {
        if (order->filled && command_emit_order(c, order, s_partially_filled_event) < 0) {
            goto done;
        }
        PyObject *reason = E.ioc_remainder;
        if (order->type == E.market) {
            best_price(book, order->side == BUY ? 1 : 0, &found);
            reason = found ? E.market_protection : E.no_liquidity;
        }
        if (order_release(c, account, order, reason, E.canceled) < 0 ||
            command_emit_order(c, order, s_canceled_event) < 0) {
            goto done;
        }
    }
    if (c->changes_orders != NULL && dict_set_order(c->changes_orders, order) < 0) {
        goto done;
    }
    rc = command_finish(c);
done:
    Py_XDECREF(name);
    Py_XDECREF(orders);
    Py_XDECREF(self_trades);
    Py_XDECREF(fills);
    return rc;
}

/* matching.Matching._cancel between commands.Commands._begin and _finish, as
 * exchange.Exchange.cancel_live runs it: the order out of its book, its lock released. */
int
cancel_execute(Command *c, PyObject *account, OrderObject *order, BookObject *book,
               PyObject *index)
{
    long long now;
    if (command_begin(c, &now) < 0 || command_touch(c, index) < 0 ||
        (order->level != NULL && book_remove_order(book, order) < 0) ||
        attr_add(account, s_open_orders, -1) < 0 ||
        order_release(c, account, order, E.canceled_by_user, E.canceled) < 0 ||
        command_emit_order(c, order, s_canceled_event) < 0) {
        return -1;
    }
    return command_finish(c);
}
