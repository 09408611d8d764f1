/* native_path.c <-> native_path.py: the engine's commonest commands in C, and every condition
 * under which one hands its command back to the Python path.
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
 * ------------------------------------------------------------------------------ hand-backs
 *
 * The C path hands a command back (FAST_FALLBACK: place returns None, cancel False, settle runs
 * Settlement._settle_fills for the fills left) only before it has changed anything. The
 * conditions, all decided in this file except where named:
 *
 *  1. hand_back_command_state: the Exchange is already collecting a command's events, or its
 *     listeners are not a plain list.
 *  2. hand_back_listeners: a listener wants book events, or events of every account; or the
 *     command is a settle with listeners attached.
 *  3. hand_back_changes: the store's Changes are not the plain sets and dict written here.
 *  4. hand_back_replay: a client_order_id that names a live order (place returns the original).
 *  5. hand_back_session_hours: a venue that keeps session hours, in an engine not always open.
 *  6. hand_back_time_in_force: FOK.
 *  7. hand_back_order / hand_back_book: an order or a book that is not the C type.
 *  8. a market order with no opposite side (protection.c's market_bound finds no bound: Python
 *     rejects it with NO_LIQUIDITY).
 *  9. hand_back_balance: no balance of the locked asset, or not enough of it.
 * 10. a risk limit the order breaks (risk.c's risk_passes).
 * 11. hand_back_makers_listened: a listener wants the events of a maker the order would meet.
 * 12. hand_back_fill / hand_back_maker_account: a fill that is not (C order, lots, price), or
 *     whose maker's account is not in the ledger or is the taker's own.
 * 13. A number beyond 64 bits anywhere (get_ll and fits64 in _native.h say FAST_FALLBACK, the
 *     128-bit helpers overflow): Python's ints are exact at any size. This one is checked where
 *     each number is read, in every file; and settlement.c's plan_fill also hands back a fill
 *     whose balance entry the Python loop would not find (it raises KeyError).
 *
 * The backtest's C hands back on its own terms, listed at the top of each file:
 * engine/backtest/liquidity.c (mirror_book) and engine/backtest/recording.c (recording_events).
 *
 * Adding a case the C path does not handle? Add its condition here, with why.
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

/* ------------------------------------------------------------------------------ hand-backs */

/* 1. commands.Commands._begin: a command already collecting events (`_events` is not None) is
 * one this command runs inside of, whose events Python must keep collecting in order; a
 * listeners object other than a plain list is one C does not know how to read. */
int
hand_back_command_state(PyObject *listeners, PyObject *events)
{
    if (!PyList_CheckExact(listeners) || events != Py_None) {
        return FAST_FALLBACK;
    }
    return FAST_OK;
}

/* 2. With listeners attached: FAST_OK when the command of `account` (a name; NULL: a settle,
 * which must not run with listeners since it would build its makers' events) would build no
 * event but its trades and its account's order and fill events, then `c->events` collects them
 * and `c->own` says whether the account's are wanted (`c->trades`: whether its trades are). A listener that wants book events
 * (`_book_events`) or every account's events (`_event_accounts` not a frozenset: None) needs
 * events only the Python path builds (commands.Commands._finish's book and ticker events).
 * Else FAST_FALLBACK, or -1. */
int
hand_back_listeners(Command *c, PyObject *account)
{
    if (account == NULL) {
        return FAST_FALLBACK;
    }
    PyObject *book_events = ex_get(c->exd, s__book_events);
    PyObject *accounts = book_events == NULL ? NULL : ex_get(c->exd, s__event_accounts);
    if (accounts == NULL) {
        return -1;
    }
    if (book_events != Py_False || !PyFrozenSet_CheckExact(accounts)) {
        return FAST_FALLBACK;
    }
    int wanted = PySet_Contains(accounts, account);
    if (wanted < 0) {
        return -1;
    }
    PyObject *trades = ex_get(c->exd, s__trade_events);
    if (trades == NULL) {
        return -1;
    }
    c->trades = trades != Py_False;
    c->own = wanted;
    c->interested = Py_NewRef(accounts);
    c->events = PyList_New(0);
    return c->events == NULL ? -1 : FAST_OK;
}

/* 3. storage.Changes: C adds to its balances and positions sets and its orders dict directly;
 * any other containers may do more on a write, which only the Python path's own calls do. */
int
hand_back_changes(Command *c)
{
    if (!PyAnySet_Check(c->changes_balances) || !PyAnySet_Check(c->changes_positions) ||
        !PyDict_CheckExact(c->changes_orders)) {
        return FAST_FALLBACK;
    }
    return FAST_OK;
}

/* 4. entry.OrderEntry._check's idempotency: FAST_FALLBACK when `client_id` names a live order
 * of `account` (Python returns that original, or refuses a different order under its id:
 * entry_rules.same_order), FAST_OK when it does not (or there is no client id), or -1. */
int
hand_back_replay(PyObject *account, PyObject *client_id)
{
    if (client_id == Py_None) {
        return FAST_OK;
    }
    PyObject *client_ids = PyObject_GetAttr(account, s_client_ids);
    if (client_ids == NULL) {
        return -1;
    }
    PyObject *existing = PyObject_GetItem(client_ids, client_id);
    Py_DECREF(client_ids);
    if (existing == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return -1;
        }
        PyErr_Clear();
        return FAST_OK;
    }
    PyObject *orders = PyObject_GetAttr(account, s_orders);
    int live = orders == NULL ? -1 : PyDict_Contains(orders, existing);
    Py_XDECREF(orders);
    Py_DECREF(existing);
    return live < 0 ? -1 : live ? FAST_FALLBACK : FAST_OK;
}

/* 5. entry.OrderEntry._check's session hours: a venue other than crypto keeps hours
 * (hours.is_open, MarketClosed), which C does not compute, unless the engine is always open. */
int
hand_back_session_hours(PyObject *exd, PyObject *instrument)
{
    PyObject *always_open = ex_get(exd, s__always_open);
    int open = always_open == NULL ? -1 : PyObject_IsTrue(always_open);
    if (open < 0) {
        return -1;
    }
    if (open) {
        return FAST_OK;
    }
    PyObject *venue = PyObject_GetAttr(instrument, s_venue);
    PyObject *kind = venue == NULL ? NULL : PyObject_GetAttr(venue, s_kind);
    Py_XDECREF(venue);
    if (kind == NULL) {
        return -1;
    }
    Py_DECREF(kind);
    return kind != E.crypto ? FAST_FALLBACK : FAST_OK;
}

/* 6. matching.Matching._execute's FOK: C runs only GTC and IOC (a market order's GTC is IOC
 * already); FOK's book.fillable check and its cancel are the Python path's. */
int
hand_back_time_in_force(PyObject *tif)
{
    return tif != E.gtc && tif != E.ioc ? FAST_FALLBACK : FAST_OK;
}

/* 7. An order that is not the C Order (an orders.PyOrder, made while VMX_PURE_PYTHON chose the
 * Python types): C reads its fields directly. */
int
hand_back_order(PyObject *order)
{
    return Order_Check(order) ? FAST_OK : FAST_FALLBACK;
}

/* 7. A book that is not the C OrderBook (a book.PyOrderBook, likewise). */
int
hand_back_book(PyObject *book)
{
    return Py_IS_TYPE(book, &BookType) ? FAST_OK : FAST_FALLBACK;
}

/* 9. entry.OrderEntry._check's balance: FAST_FALLBACK when the account has no balance of the
 * asset the order locks, or less available than `required` (Python raises
 * InsufficientBalance with its message), or the lock would go beyond 64 bits; else FAST_OK
 * with the balance entry [total, locked] (borrowed) in `*balance`, or -1. */
int
hand_back_balance(PyObject *balances, PyObject *asset, i128 required, PyObject **balance)
{
    *balance = balance_entry(balances, asset);
    if (*balance == NULL) {
        return PyErr_Occurred() ? -1 : FAST_FALLBACK;
    }
    long long total, locked;
    int rc;
    if ((rc = get_ll(PyList_GET_ITEM(*balance, 0), &total)) ||
        (rc = get_ll(PyList_GET_ITEM(*balance, 1), &locked))) {
        return rc;
    }
    i128 available = (i128)total - locked;
    if (required > available || !fits64((i128)locked + required)) {
        return FAST_FALLBACK;
    }
    return FAST_OK;
}

/* 11. With listeners that want some accounts' events: an order that would meet a maker of one
 * of them needs that maker's order and fill events, which only the Python path builds
 * (settlement.Settlement._settle_fills with events). The account's own makers are canceled as
 * self-trades, whose events C does build. */
int
hand_back_makers_listened(Command *c, BookObject *book, long long side, PyObject *name,
                          long long ticks, long long lots)
{
    if (c->interested == NULL) {
        return FAST_OK;
    }
    int wanted = book_meets_maker_of(book, side, name, ticks, lots, c->interested);
    return wanted < 0 ? -1 : wanted ? FAST_FALLBACK : FAST_OK;
}

/* 12. settlement.Settlement._settle_fills's `for maker, lots, price in fills`: a fill C reads
 * directly must be a (C Order, lots, price) tuple. */
int
hand_back_fill(PyObject *fill)
{
    if (!PyTuple_CheckExact(fill) || PyTuple_GET_SIZE(fill) != 3 ||
        !Order_Check(PyTuple_GET_ITEM(fill, 0))) {
        return FAST_FALLBACK;
    }
    return FAST_OK;
}

/* 12. settlement.Settlement._settle_fills's `accounts[maker.account]`: FAST_OK with the maker's
 * account (borrowed) in `*out`; FAST_FALLBACK when it is missing (Python raises KeyError) or
 * is the taker's own (self-trades never fill: the impossible is left to Python); or -1. */
int
hand_back_maker_account(PyObject *accounts, OrderObject *maker, PyObject *taker_account,
                        PyObject **out)
{
    *out = PyDict_GetItemWithError(accounts, maker->account);
    if (*out == NULL) {
        return PyErr_Occurred() ? -1 : FAST_FALLBACK;
    }
    return *out == taker_account ? FAST_FALLBACK : FAST_OK;
}

/* ------------------------------------------------------------------------------ the commands */

/* native_path.place, i.e. exchange.Exchange.place without post-only: entry.OrderEntry._check
 * (every check, changing nothing), risk.record, then matching.Matching._execute (place_execute).
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
    rc = price == Py_None ? market_bound(&c, book, buy, &ticks) : get_ll(price, &ticks);
    if (rc != FAST_OK || (rc = attr_ll(instrument, s_notional_units, &notional_units)) ||
        (rc = attr_ll(instrument, s_lot_units, &lot_units)) ||
        (rc = ex_get_ll(c.exd, s_next_order_id, &order_id))) {
        goto out;
    }
    i128 required;
    if ((rc = lock_rate_of(instrument, c.lock_rate, &c.lock_rate)) != FAST_OK) {
        goto out;
    }
    if (!lock_for_lots(side, ticks, lots, notional_units, lot_units, c.lock_rate, &required)) {
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
    if ((rc = hand_back_makers_listened(&c, book, side, name, ticks, lots)) != FAST_OK) {
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
    rc = place_execute(&c, account, order, book, index, balance, required, asset);
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
                             "PARTIALLY_FILLED", "CANCELED", "CANCELED_BY_USER",
                             "IOC_REMAINDER", "MARKET_PROTECTION", "NO_LIQUIDITY",
                             "SELF_TRADE_PREVENTION", "Position", "FillRecord", "FEE_ACCOUNT",
                             "to_micros", "trade_event", "order_event", "fill_event", NULL};
    PyObject *v[21];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOOOOOOOOOOOOOOO:_configure_engine",
                                     kwlist, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                                     &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14],
                                     &v[15], &v[16], &v[17], &v[18], &v[19], &v[20])) {
        return NULL;
    }
    PyObject **slots[21] = {&E.user, &E.crypto, &E.limit, &E.market, &E.gtc, &E.ioc,
                            &E.filled, &E.partially_filled, &E.canceled, &E.canceled_by_user,
                            &E.ioc_remainder, &E.market_protection, &E.no_liquidity,
                            &E.self_trade, &E.position_type, &E.fill_record_type,
                            &E.fee_account, &E.to_micros, &E.trade_event, &E.order_event,
                            &E.fill_event};
    for (int i = 0; i < 21; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(v[i]));
    }
    Py_RETURN_NONE;
}
