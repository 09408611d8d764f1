/* native_path.c <-> native_path.py: the engine's commonest commands in C.
 *
 * The C path works over the same Python state the pure-Python engine keeps (the Exchange's
 * attributes, accounts' `balances` lists, `Position`s, `MarketStats`, `FillRecord`s, the
 * store's `Changes`); the Python modules its files are named after are the reference each
 * follows step by step.
 *
 * - place(exchange, account, instrument, side, lots, price, tif, client_id): Exchange.place,
 *   that is entry.OrderEntry._check, risk.record and matching.Matching._execute, for an order
 *   without post-only (native_path.py's caller keeps those). Everything that can refuse is
 *   decided before anything changes; then it returns None and the caller runs the Python path,
 *   which raises or rejects exactly as before.
 * - cancel(exchange, account, order): exchange.Exchange.cancel_live (False: run the Python path).
 * - settle(exchange, taker_account, taker, fills): settlement.Settlement._settle while no events
 *   are collected.
 *
 * Both place and cancel run while listeners are attached as long as the only events the
 * command would build are its public trades and its own account's order and fill events; the
 * events are then built by Python callbacks (native_path.py's `TradeEvent`, `_order_event`,
 * `_fill_event`) at the points, and in the order, where matching.py / settlement.py append
 * them, and delivered by `_commit`.
 *
 * Every condition under which a command is handed back to the Python path, each with why, is
 * in hand_backs.c. This file is the top of the C core's layers (_native.h): it calls the
 * others, none calls it.
 */
#include "_native.h"

EngineConstants E;

/* (no Python twin) A C function called before native_path.py configured the engine path. */
static PyObject *
engine_not_configured(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the engine path is not configured: import "
                                        "velocimex_cli.engine.core.native_path");
    return NULL;
}

/* native_path.place, i.e. exchange.Exchange.place without post-only: entry.OrderEntry._check
 * (every check, changing nothing), risk.record, then matching.Matching._execute (place_execute),
 * including _check's reject of a market order with no opposite side (NO_LIQUIDITY).
 * place(exchange, account, instrument, side, lots, price, tif, client_id) -> Order, or None:
 * run the Python path. */
PyObject *
engine_place(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("place", nargs, 8) < 0) {
        return NULL;
    }
    if (E.user == NULL) {
        return engine_not_configured();
    }
    PyObject *exchange = args[0], *account = args[1], *instrument = args[2];
    PyObject *price = args[5], *tif = args[6], *client_id = args[7];
    PyObject *index = NULL, *book_obj = NULL, *asset = NULL, *balances = NULL, *risk = NULL;
    PyObject *recent = NULL, *name = NULL, *result = NULL, *balance = NULL;
    OrderObject *order = NULL;
    Command c;
    memset(&c, 0, sizeof(c));
    long long side, lots, ticks, notional_units, lot_units, order_id, risk_now = 0;
    name = PyObject_GetAttr(account, s_name);
    int rc = name == NULL ? -1 : command_open(&c, exchange, name);
    if (rc != FAST_OK) {
        goto out;
    }
    if ((rc = get_ll(args[3], &side)) != FAST_OK || (rc = get_ll(args[4], &lots)) != FAST_OK ||
        (rc = hand_back_replay(account, client_id)) != FAST_OK ||
        (rc = hand_back_session_hours(c.exd, instrument)) != FAST_OK) {
        goto out;
    }
    PyObject *type = price == Py_None ? E.market : E.limit;
    if (type == E.market && tif == E.gtc) {
        tif = E.ioc;
    }
    if ((rc = hand_back_time_in_force(tif)) != FAST_OK) {
        goto out;
    }
    int buy = side == BUY;
    index = PyObject_GetAttr(instrument, s_index);
    PyObject *books = index == NULL ? NULL : ex_get(c.exd, s_books);
    book_obj = books == NULL ? NULL : PyObject_GetItem(books, index);
    if (book_obj == NULL) {
        rc = -1;
        goto out;
    }
    if ((rc = hand_back_book(book_obj)) != FAST_OK) {
        goto out;
    }
    BookObject *book = (BookObject *)book_obj;
    int bounded = 1;
    rc = price == Py_None ? market_bound(&c, book, buy, &ticks, &bounded) : get_ll(price, &ticks);
    if (rc != FAST_OK || (rc = attr_ll(instrument, s_notional_units, &notional_units)) ||
        (rc = attr_ll(instrument, s_lot_units, &lot_units)) ||
        (rc = ex_get_ll(c.exd, s_next_order_id, &order_id))) {
        goto out;
    }
    /* A market order with no opposite side is created at price 0 and rejected with
     * NO_LIQUIDITY: it locks nothing, so it needs no balance (the risk limits still apply). */
    PyObject *reject = bounded ? NULL : E.no_liquidity;
    i128 required = 0;
    if (reject == NULL) {
        if ((rc = lock_rate_of(instrument, c.lock_rate, &c.lock_rate)) != FAST_OK) {
            goto out;
        }
        if (!lock_for_lots(side, ticks, lots, notional_units, lot_units, c.lock_rate,
                           &required)) {
            rc = FAST_FALLBACK;
            goto out;
        }
        asset = PyObject_GetAttr(instrument, buy ? s_quote : s_base);
        balances = asset == NULL ? NULL : PyObject_GetAttr(account, s_balances);
        if (balances == NULL) {
            rc = -1;
            goto out;
        }
        if ((rc = hand_back_balance(balances, asset, required, &balance)) != FAST_OK) {
            goto out;
        }
    }
    risk = PyObject_GetAttr(account, s_risk);
    if (risk == NULL) {
        rc = -1;
        goto out;
    }
    if (risk != Py_None) {
        rc = risk_passes(&c, risk, book, buy, price, ticks, lots, notional_units,
                         tif == E.gtc, account, &recent, &risk_now);
        if (rc != FAST_OK) {
            goto out;
        }
    }
    /* (A rejected order meets no maker.) */
    if (reject == NULL &&
        (rc = hand_back_makers_listened(&c, book, side, name, ticks, lots)) != FAST_OK) {
        goto out;
    }
    /* Every check passed: from here on the command changes state. */
    if (recent != NULL) { /* risk.record */
        PyObject *when = PyLong_FromLongLong(risk_now);
        PyObject *r = when == NULL ? NULL : PyObject_CallMethodOneArg(recent, s_append, when);
        Py_XDECREF(when);
        if (r == NULL) {
            rc = -1;
            goto out;
        }
        Py_DECREF(r);
    }
    order = (OrderObject *)OrderType.tp_alloc(&OrderType, 0);
    if (order == NULL || order_init_fields(order, order_id, name, instrument, side, type, tif,
                                           Py_False, ticks, lots, client_id, 0) < 0) {
        rc = -1;
        goto out;
    }
    rc = place_execute(&c, account, order, book, index, balance, required, asset, reject);
    if (rc == 0) {
        result = Py_NewRef(order);
    }
out:
    if (rc == FAST_FALLBACK) {
        result = Py_NewRef(Py_None);
    }
    Py_XDECREF(order);
    Py_XDECREF(index);
    Py_XDECREF(book_obj);
    Py_XDECREF(asset);
    Py_XDECREF(balances);
    Py_XDECREF(risk);
    Py_XDECREF(recent);
    Py_XDECREF(name);
    command_clear(&c);
    return result;
}

/* native_path.cancel, i.e. exchange.Exchange.cancel_live (matching.c's cancel_execute).
 * cancel(exchange, account, order) -> True, or False: run the Python path. */
PyObject *
engine_cancel(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("cancel", nargs, 3) < 0) {
        return NULL;
    }
    if (E.user == NULL) {
        return engine_not_configured();
    }
    PyObject *account = args[1];
    Command c;
    PyObject *index = NULL, *book = NULL, *result = NULL;
    memset(&c, 0, sizeof(c));
    int rc = hand_back_order(args[2]);
    if (rc == FAST_OK) {
        rc = command_open(&c, args[0], ((OrderObject *)args[2])->account);
    }
    if (rc == FAST_OK) {
        rc = lock_rate_of(((OrderObject *)args[2])->instrument, c.lock_rate, &c.lock_rate);
    }
    if (rc != FAST_OK) {
        goto out;
    }
    OrderObject *order = (OrderObject *)args[2];
    PyObject *books = ex_get(c.exd, s_books);
    index = books == NULL ? NULL : PyObject_GetAttr(order->instrument, s_index);
    book = index == NULL ? NULL : PyObject_GetItem(books, index);
    if (book == NULL) {
        rc = -1;
        goto out;
    }
    if ((rc = hand_back_book(book)) != FAST_OK) {
        goto out;
    }
    rc = cancel_execute(&c, account, order, (BookObject *)book, index);
    if (rc == FAST_OK) {
        result = Py_NewRef(Py_True);
    }
out:
    if (rc == FAST_FALLBACK) {
        result = Py_NewRef(Py_False);
    }
    Py_XDECREF(index);
    Py_XDECREF(book);
    command_clear(&c);
    return result;
}

/* native_path.settle, i.e. settlement.Settlement._settle without events (settlement.c's
 * settle_fills), else its Python loop, Settlement._settle_fills.
 * settle(exchange, taker_account, taker, fills). */
PyObject *
engine_settle(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("settle", nargs, 4) < 0) {
        return NULL;
    }
    if (E.user == NULL) {
        return engine_not_configured();
    }
    Command c;
    int rc = command_open(&c, args[0], NULL);
    if (rc == FAST_OK) {
        rc = hand_back_order(args[2]);
    }
    if (rc == FAST_OK) {
        rc = settle_fills(&c, args[1], (OrderObject *)args[2], args[3]);
    }
    else if (rc == FAST_FALLBACK) {
        PyObject *r = PyObject_CallMethodObjArgs(args[0], s__settle_fills, args[1], args[2],
                                                 args[3], NULL);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    command_clear(&c);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* native_path.py's `_native._configure_engine(...)`: the enum members, classes and callbacks
 * the engine path uses, set once at its import. */
PyObject *
engine_configure(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"USER", "CRYPTO", "LIMIT", "MARKET", "GTC", "IOC", "FILLED",
                             "PARTIALLY_FILLED", "CANCELED", "REJECTED", "CANCELED_BY_USER",
                             "IOC_REMAINDER", "MARKET_PROTECTION", "NO_LIQUIDITY",
                             "SELF_TRADE_PREVENTION", "Position", "FillRecord", "FEE_ACCOUNT",
                             "to_micros", "trade_event", "order_event", "fill_event", NULL};
    enum { COUNT = 22 };
    PyObject *v[COUNT];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOOOOOOOOOOOOOOOO:_configure_engine",
                                     kwlist, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                                     &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14],
                                     &v[15], &v[16], &v[17], &v[18], &v[19], &v[20], &v[21])) {
        return NULL;
    }
    PyObject **slots[COUNT] = {&E.user, &E.crypto, &E.limit, &E.market, &E.gtc, &E.ioc,
                               &E.filled, &E.partially_filled, &E.canceled, &E.rejected,
                               &E.canceled_by_user, &E.ioc_remainder, &E.market_protection,
                               &E.no_liquidity, &E.self_trade, &E.position_type,
                               &E.fill_record_type, &E.fee_account, &E.to_micros,
                               &E.trade_event, &E.order_event, &E.fill_event};
    for (int i = 0; i < COUNT; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(v[i]));
    }
    Py_RETURN_NONE;
}
