/* liquidity.c <-> engine/core/liquidity.py: a backtest's recorded book mirrored into the
 * engine's book as a simulated account's resting orders (Liquidity.set_book in one C call).
 *
 * It sits beside the backtest, its only user (backtest/market.py), and is compiled into the
 * C core's extension (velocimex_cli.engine.core._native, see setup.py): it works inside the
 * book's levels and orders (book_levels.c) and their locks (locks.c).
 *
 * - mirror_book(exchange, account, instrument, book, quote_balance, base_balance, bids, asks,
 *   start, now): liquidity.Liquidity.set_level (the reference) for (bids + asks)[start:],
 *   sequences of (price, lots), in one call: the account's resting quantity at each price made
 *   equal to `lots`, its newest orders going first as a level shrinks (the newest that keeps
 *   some shrinks in place), its last order growing as a level grows when nothing rests behind
 *   it, else a new order joining the back. Locks follow exactly (the balances are the
 *   account's [total, locked] of each asset). The account's orders at a level are read from
 *   the level's own FIFO. Returns the index of the first level it hands back to the Python
 *   path, or, when all are done, their count, having published the book (Liquidity.publish).
 *   The caller (Liquidity.set_book) has checked that nobody needs these changes as events.
 *
 * Hand-backs: a level is handed back to Liquidity.set_level with nothing of it changed when
 *  - a new order would cross the book (Liquidity.add places it through Exchange.place: it
 *    trades first),
 *  - a lock the balance cannot take (Liquidity._balance raises InsufficientBalance),
 *  - a negative size (set_level's own answer), a level that is not a (price, lots) tuple, a
 *    balance that is not a [total, locked] list, or a number beyond 64 bits (Python's ints are
 *    exact),
 *  - the next order id is the largest int64.
 */
#include "../core/_native.h"

typedef struct {
    PyObject *exd;     /* the exchange's __dict__ */
    PyObject *account; /* ledger.Account */
    PyObject *name;    /* its name: its orders' `account` */
    PyObject *orders;  /* account.orders */
    PyObject *instrument;
    BookObject *book;
    PyObject *balance; /* [total, locked] */
    long long side;
    long long unit; /* notional_units (buy) or lot_units (sell) */
    long long lock_rate; /* locks.lock_rate_of the instrument */
    long long now;
} Mirror;

/* locks.lock_for for the mirrored account's side. */
static int
mirror_lock(Mirror *m, long long price, long long lots, i128 *out)
{
    return lock_for_lots(m->side, price, lots, m->unit, m->unit, m->lock_rate, out);
}

/* liquidity.Liquidity.orders_at, walked backwards: the account's order resting before `order`
 * in its level (NULL: none). */
static int
mirror_prev(Mirror *m, OrderObject *order, OrderObject **out)
{
    OrderObject *o = order->prev;
    for (; o != NULL; o = o->prev) {
        int mine = same_account(o, m->name);
        if (mine < 0) {
            return -1;
        }
        if (mine) {
            break;
        }
    }
    *out = o;
    return 0;
}

/* liquidity.Liquidity.remove: out of the book, its lock (`lock`) released, canceled. */
static int
mirror_remove(Mirror *m, OrderObject *order, i128 lock)
{
    Py_INCREF(order);
    int rc = -1;
    PyObject *id = NULL;
    if (book_remove_order(m->book, order) < 0 || list_add(m->balance, 1, -lock) < 0) {
        goto done;
    }
    order_set_status(order, E.canceled);
    order_set_reason(order, E.canceled_by_user);
    order->updated = m->now;
    if (attr_add(m->account, s_open_orders, -1) < 0) {
        goto done;
    }
    id = PyLong_FromLongLong(order->id);
    if (id == NULL) {
        goto done;
    }
    if (PyDict_DelItem(m->orders, id) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            goto done;
        }
        PyErr_Clear();
    }
    rc = 0;
done:
    Py_XDECREF(id);
    Py_DECREF(order);
    return rc;
}

/* liquidity.Liquidity.resize once its checks passed: `remaining` lots in place, the lock by
 * `units`. */
static int
mirror_resize(Mirror *m, OrderObject *order, long long remaining, i128 units)
{
    long long delta = remaining - (order->quantity - order->filled);
    if (delta != 0) {
        order->quantity = order->filled + remaining;
        order->level->quantity += delta;
        m->book->changed = 1;
        if (book_touch(m->book, order->side, order->price) < 0) {
            return -1;
        }
    }
    order->updated = m->now;
    return list_add(m->balance, 1, units);
}

/* liquidity.Liquidity.set_level's shrinking loop: the level holds `held` > `lots` of the
 * account's: its newest orders go, the next shrinks. */
static int
mirror_shrink(Mirror *m, OrderObject *newest, i128 held, long long lots, i128 available)
{
    /* First the plan and its checks, so that a hand-back changes nothing. */
    i128 released = 0, lock, units = 0;
    Py_ssize_t removed = 0;
    OrderObject *order = newest, *cut = NULL;
    long long cut_to = 0;
    while (held > lots) {
        long long left = order->quantity - order->filled;
        if (held - left < lots) {
            cut = order;
            cut_to = (long long)(lots - (held - left));
            break;
        }
        if (!mirror_lock(m, order->price, left, &lock)) {
            return FAST_FALLBACK;
        }
        released += lock;
        held -= left;
        removed++;
        if (mirror_prev(m, order, &order) < 0) {
            return -1;
        }
    }
    if (cut != NULL) {
        i128 before, after;
        if (!mirror_lock(m, cut->price, cut->quantity - cut->filled, &before) ||
            !mirror_lock(m, cut->price, cut_to, &after)) {
            return FAST_FALLBACK;
        }
        units = after - before;
        if (units > available + released) {
            return FAST_FALLBACK;
        }
    }
    order = newest;
    for (Py_ssize_t i = 0; i < removed; i++) {
        OrderObject *prev;
        if (mirror_prev(m, order, &prev) < 0 ||
            !mirror_lock(m, order->price, order->quantity - order->filled, &lock) ||
            mirror_remove(m, order, lock) < 0) {
            return -1;
        }
        order = prev;
    }
    return cut == NULL ? FAST_OK : mirror_resize(m, cut, cut_to, units);
}

/* liquidity.Liquidity.add when the order does not cross: a new order of `lots` at the back. */
static int
mirror_add(Mirror *m, long long price, long long lots, i128 units)
{
    long long id;
    int rc = ex_get_ll(m->exd, s_next_order_id, &id);
    if (rc != FAST_OK || id == LLONG_MAX) {
        return rc == FAST_OK ? FAST_FALLBACK : rc;
    }
    OrderObject *order = (OrderObject *)OrderType.tp_alloc(&OrderType, 0);
    if (order == NULL) {
        return -1;
    }
    rc = -1;
    if (order_init_fields(order, id, m->name, m->instrument, m->side, E.limit, E.gtc, Py_False,
                          price, lots, Py_None, m->now) < 0 ||
        list_add(m->balance, 1, units) < 0 || ex_set_ll(m->exd, s_next_order_id, id + 1) < 0 ||
        dict_set_order(m->orders, order) < 0 || attr_add(m->account, s_open_orders, 1) < 0 ||
        book_rest_order(m->book, order) < 0) {
        goto done;
    }
    rc = FAST_OK;
done:
    Py_DECREF(order);
    return rc;
}

/* liquidity.Liquidity.set_level's growth: the level holds `held` < `lots` of the account's:
 * its newest order grows if it is the
 * level's last, else a new order joins. */
static int
mirror_grow(Mirror *m, Level *level, long long price, OrderObject *newest, i128 held,
            long long lots, i128 available)
{
    i128 more = lots - held, before, after, units;
    if (newest != NULL) {
        long long left = newest->quantity - newest->filled;
        i128 target = left + more;
        if (target > LLONG_MAX || !mirror_lock(m, price, left, &before) ||
            !mirror_lock(m, price, (long long)target, &after)) {
            return FAST_FALLBACK;
        }
        units = after - before;
        if (units > available) {
            return FAST_FALLBACK;
        }
        if (newest == level->tail) {
            if (newest->filled > LLONG_MAX - target || level->quantity > LLONG_MAX - more) {
                return FAST_FALLBACK;
            }
            return mirror_resize(m, newest, (long long)target, units);
        }
    }
    Side *other = &m->book->sides[m->side == BUY ? 1 : 0];
    if (other->len != 0) {
        long long best = other->items[other->len - 1]->price;
        if (m->side == BUY ? price >= best : price <= best) {
            return FAST_FALLBACK; /* it trades first: Exchange.place */
        }
    }
    if (!mirror_lock(m, price, (long long)more, &units) || units > available ||
        (level != NULL && level->quantity > LLONG_MAX - more)) {
        return FAST_FALLBACK;
    }
    return mirror_add(m, price, (long long)more, units);
}

/* liquidity.Liquidity.set_level: FAST_OK, FAST_FALLBACK (nothing changed) or -1. */
static int
mirror_level(Mirror *m, long long price, long long lots)
{
    if (lots < 0) {
        return FAST_FALLBACK;
    }
    int s = m->side == BUY ? 0 : 1;
    Level *level = side_find(&m->book->sides[s], s, price);
    i128 held = 0;
    OrderObject *newest = NULL;
    if (level != NULL) {
        for (OrderObject *o = level->tail; o != NULL; o = o->prev) {
            int mine = same_account(o, m->name);
            if (mine < 0) {
                return -1;
            }
            if (mine) {
                newest = newest == NULL ? o : newest;
                held += o->quantity - o->filled;
            }
        }
    }
    if (held == lots) {
        return FAST_OK;
    }
    long long total, locked;
    int rc = get_ll(PyList_GET_ITEM(m->balance, 0), &total);
    if (rc == FAST_OK) {
        rc = get_ll(PyList_GET_ITEM(m->balance, 1), &locked);
    }
    if (rc != FAST_OK) {
        return rc;
    }
    i128 available = (i128)total - locked;
    if (held > lots) {
        return mirror_shrink(m, newest, held, lots, available);
    }
    return mirror_grow(m, level, price, newest, held, lots, available);
}

/* liquidity.Liquidity.set_book's loop over one side's levels[start:]: the index of the first
 * handed back, or -1 (an error). */
static Py_ssize_t
mirror_side(Mirror *m, PyObject *levels, Py_ssize_t start)
{
    Py_ssize_t count = PySequence_Fast_GET_SIZE(levels), index = start;
    for (; index < count; index++) {
        PyObject *level = PySequence_Fast_GET_ITEM(levels, index);
        long long price, lots;
        if (!PyTuple_CheckExact(level) || PyTuple_GET_SIZE(level) != 2 ||
            get_ll(PyTuple_GET_ITEM(level, 0), &price) != FAST_OK ||
            get_ll(PyTuple_GET_ITEM(level, 1), &lots) != FAST_OK) {
            return PyErr_Occurred() ? -1 : index;
        }
        int rc = mirror_level(m, price, lots);
        if (rc != FAST_OK) {
            return rc < 0 ? -1 : index;
        }
    }
    return index;
}

/* liquidity.Liquidity.set_book's `mirror_book(...)`, its loop and its publish (see the top). */
PyObject *
mirror_book(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("mirror_book", nargs, 10) < 0) {
        return NULL;
    }
    Mirror m = {.account = args[1], .instrument = args[2]};
    long long start, units[2];
    if (!PyObject_TypeCheck(args[3], &BookType)) {
        PyErr_SetString(PyExc_TypeError, "expected a native OrderBook");
        return NULL;
    }
    m.book = (BookObject *)args[3];
    if (arg_int64(args[8], &start, "start") < 0 || arg_int64(args[9], &m.now, "now") < 0) {
        return NULL;
    }
    PyObject *sides[2] = {NULL, NULL}, *result = NULL;
    sides[0] = PySequence_Fast(args[6], "bids must be a sequence");
    sides[1] = sides[0] == NULL ? NULL : PySequence_Fast(args[7], "asks must be a sequence");
    if (sides[1] == NULL) {
        Py_XDECREF(sides[0]);
        return NULL;
    }
    Py_ssize_t bids = PySequence_Fast_GET_SIZE(sides[0]);
    Py_ssize_t count = bids + PySequence_Fast_GET_SIZE(sides[1]);
    Py_ssize_t index = start < 0 ? 0 : start > count ? count : (Py_ssize_t)start;
    m.exd = PyObject_GenericGetDict(args[0], NULL);
    m.name = PyObject_GetAttr(m.account, s_name);
    m.orders = PyObject_GetAttr(m.account, s_orders);
    if (m.exd == NULL || m.name == NULL || m.orders == NULL) {
        goto done;
    }
    int rc = attr_ll(m.instrument, s_notional_units, &units[0]);
    if (rc == FAST_OK) {
        rc = attr_ll(m.instrument, s_lot_units, &units[1]);
    }
    if (rc == FAST_OK) {
        rc = ex_get_ll(m.exd, s__lock_rate, &m.lock_rate);
    }
    if (rc == FAST_OK) {
        rc = lock_rate_of(m.instrument, m.lock_rate, &m.lock_rate);
    }
    if (rc < 0) {
        goto done;
    }
    if (rc == FAST_OK && E.limit != NULL && PyDict_CheckExact(m.orders)) {
        for (int side = 0; side < 2 && index < count; side++) {
            Py_ssize_t offset = side == 0 ? 0 : bids;
            if (index >= offset + PySequence_Fast_GET_SIZE(sides[side])) {
                continue;
            }
            m.side = side == 0 ? BUY : 1;
            m.unit = units[side];
            m.balance = args[4 + side];
            if (!PyList_CheckExact(m.balance) || PyList_GET_SIZE(m.balance) != 2) {
                break;
            }
            Py_ssize_t done = mirror_side(&m, sides[side], index - offset);
            if (done < 0) {
                goto done;
            }
            index = offset + done;
            if (index < offset + PySequence_Fast_GET_SIZE(sides[side])) {
                break; /* handed back */
            }
        }
    }
    if (index == count && m.book->changed) { /* Liquidity.publish */
        m.book->sequence++;
        m.book->changed = 0;
    }
    result = PyLong_FromSsize_t(index);
done:
    Py_XDECREF(m.exd);
    Py_XDECREF(m.name);
    Py_XDECREF(m.orders);
    Py_DECREF(sides[0]);
    Py_DECREF(sides[1]);
    return result;
}
