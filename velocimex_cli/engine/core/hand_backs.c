/* hand_backs.c: every condition under which the C engine path hands a command back to the
 * Python path (no Python twin: Python runs every command itself; native_path.py is the module
 * that chooses between the two).
 *
 * The C path (native_path.c's place, cancel and settle) hands a command back (FAST_FALLBACK:
 * place returns None, cancel False, settle runs Settlement._settle_fills for the fills left)
 * only before it has changed anything; the Python path then raises, rejects or builds events
 * exactly as it always did. The conditions, each a hand_back_* function below except where
 * named:
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
 *  8. hand_back_balance: no balance of the locked asset, or not enough of it.
 *  9. a risk limit the order breaks (risk.c's risk_passes).
 * 10. hand_back_makers_listened: a listener wants the events of a maker the order would meet.
 * 11. hand_back_fill / hand_back_maker_account: a fill that is not (C order, lots, price), or
 *     whose maker's account is not in the ledger or is the taker's own.
 * 12. A number beyond 64 bits anywhere (get_ll and fits64 in _native.h say FAST_FALLBACK, the
 *     128-bit helpers overflow): Python's ints are exact at any size. This one is checked where
 *     each number is read, in every file; and settlement.c's plan_fill also hands back a fill
 *     whose balance entry the Python loop would not find (it raises KeyError).
 *
 * Not a hand-back: a market order with no opposite side (protection.c's market_bound finds no
 * bound). C creates and rejects it with NO_LIQUIDITY as entry.OrderEntry._check and
 * matching.Matching._execute do: price 0, no balance needed nor locked, the risk limits checked
 * (a broken one is condition 9) and the per-second window recorded, the next order id taken,
 * the order kept in the account (a simulated one drops it), its client_order_id noted, its
 * book touched, its "rejected" event built for a listener that follows the account, and the
 * order in the store's changes.
 *
 * They sit below every file that asks them (commands.c, settlement.c, native_path.c) and
 * call only book_queries.c (book_meets_maker_of), ledger.c (balance_entry) and values.c: see
 * the layers in _native.h.
 *
 * The backtest's C hands back on its own terms, listed at the top of each file:
 * engine/backtest/liquidity.c (mirror_book) and engine/backtest/recording.c (recording_events).
 *
 * Adding a case the C path does not handle? Add its condition here, with why.
 */
#include "_native.h"

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
    PyObject *existing;
    if (PyDict_CheckExact(client_ids)) { /* `get`: a new client id raises no KeyError to clear */
        existing = Py_XNewRef(PyDict_GetItemWithError(client_ids, client_id));
        if (existing == NULL) {
            Py_DECREF(client_ids);
            return PyErr_Occurred() ? -1 : FAST_OK;
        }
    }
    else {
        existing = PyObject_GetItem(client_ids, client_id);
    }
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

/* 8. entry.OrderEntry._check's balance: FAST_FALLBACK when the account has no balance of the
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

/* 10. With listeners that want some accounts' events: an order that would meet a maker of one
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

/* 11. settlement.Settlement._settle_fills's `for maker, lots, price in fills`: a fill C reads
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

/* 11. settlement.Settlement._settle_fills's `accounts[maker.account]`: FAST_OK with the maker's
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
