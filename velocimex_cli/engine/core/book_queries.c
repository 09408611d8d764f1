/* book_queries.c <-> book.py: what the OrderBook answers without changing (PyOrderBook's
 * queries: best prices, depth, resting orders, what an order would cross or could fill).
 *
 * The levels they read are book_levels.c's; book.c's method table names these.
 */
#include "_native.h"

/* book.PyOrderBook.take/crosses/fillable's `limit`: a price limit beyond int64 cannot be
 * reached by any level, so it is clamped. */
int
arg_limit(PyObject *value, long long *out)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "limit must be an int, not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = overflow > 0 ? LLONG_MAX : overflow < 0 ? LLONG_MIN : v;
    return 0;
}

/* (no Python twin: best_bid and best_ask below share it) A side's best price, its last
 * level's (each side keeps its best at the end), or None. */
static PyObject *
side_best_price(const Side *s)
{
    if (s->len == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(s->items[s->len - 1]->price);
}

/* book.PyOrderBook.best_bid */
PyObject *
book_best_bid(BookObject *self, PyObject *unused)
{
    (void)unused;
    return side_best_price(&self->sides[0]);
}

/* book.PyOrderBook.best_ask */
PyObject *
book_best_ask(BookObject *self, PyObject *unused)
{
    (void)unused;
    return side_best_price(&self->sides[1]);
}

/* (no Python twin: level_quantity and level_orders below share it) Their arguments (side,
 * price) read, and the level at that price put in *level (NULL: none rests there); -1 with an
 * exception set when an argument is wrong. */
static int
level_arg(BookObject *self, const char *name, PyObject *const *args, Py_ssize_t nargs,
          Level **level)
{
    long long side, price;
    if (check_nargs(name, nargs, 2) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_int64(args[1], &price, "price") < 0) {
        return -1;
    }
    int s = side == BUY ? 0 : 1;
    *level = side_find(&self->sides[s], s, price);
    return 0;
}

/* book.PyOrderBook.level_quantity */
PyObject *
book_level_quantity(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Level *level;
    if (level_arg(self, "level_quantity", args, nargs, &level) < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(level != NULL ? level->quantity : 0);
}

/* book.PyOrderBook.depth */
PyObject *
book_depth(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, levels;
    if (check_nargs("depth", nargs, 2) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_int64(args[1], &levels, "levels") < 0) {
        return NULL;
    }
    Side *s = &self->sides[side == BUY ? 0 : 1];
    /* As the Python slice keys[-levels:]: a negative count leaves out the worst |levels|. */
    Py_ssize_t count;
    if (levels == 0) {
        count = 0;
    }
    else if (levels > 0) {
        count = levels < (long long)s->len ? (Py_ssize_t)levels : s->len;
    }
    else {
        long long rest = (long long)s->len + levels;
        count = rest > 0 ? (Py_ssize_t)rest : 0;
    }
    PyObject *result = PyList_New(count);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Level *level = s->items[s->len - 1 - i];
        PyObject *pair = Py_BuildValue("(LL)", level->price, level->quantity);
        if (pair == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, pair);
    }
    return result;
}

/* book.PyOrderBook.resting_orders */
PyObject *
book_resting_orders(BookObject *self, PyObject *arg)
{
    long long side;
    if (arg_int64(arg, &side, "side") < 0) {
        return NULL;
    }
    Side *s = &self->sides[side == BUY ? 0 : 1];
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = s->len - 1; i >= 0; i--) {
        for (OrderObject *o = s->items[i]->head; o != NULL; o = o->next) {
            if (PyList_Append(result, (PyObject *)o) < 0) {
                Py_DECREF(result);
                return NULL;
            }
        }
    }
    return result;
}

/* book.PyOrderBook.level_orders */
PyObject *
book_level_orders(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Level *level;
    if (level_arg(self, "level_orders", args, nargs, &level) < 0) {
        return NULL;
    }
    PyObject *result = PyList_New(level != NULL ? level->count : 0);
    if (result == NULL || level == NULL) {
        return result;
    }
    Py_ssize_t i = 0;
    for (OrderObject *o = level->head; o != NULL; o = o->next) {
        PyList_SET_ITEM(result, i++, Py_NewRef(o));
    }
    return result;
}

/* book.PyOrderBook.resting_count */
PyObject *
book_resting_count(BookObject *self, PyObject *unused)
{
    (void)unused;
    Py_ssize_t total = 0;
    for (int side = 0; side < 2; side++) {
        Side *s = &self->sides[side];
        for (Py_ssize_t i = 0; i < s->len; i++) {
            total += s->items[i]->count;
        }
    }
    return PyLong_FromSsize_t(total);
}

/* book.PyOrderBook.crosses */
PyObject *
book_crosses(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, price;
    if (check_nargs("crosses", nargs, 2) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_limit(args[1], &price) < 0) {
        return NULL;
    }
    if (side == BUY) {
        Side *s = &self->sides[1];
        return PyBool_FromLong(s->len && price >= s->items[s->len - 1]->price);
    }
    Side *s = &self->sides[0];
    return PyBool_FromLong(s->len && price <= s->items[s->len - 1]->price);
}

/* book.PyOrderBook.fillable */
PyObject *
book_fillable(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, limit, lots;
    if (check_nargs("fillable", nargs, 4) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_limit(args[1], &limit) < 0 || arg_int64(args[2], &lots, "lots") < 0) {
        return NULL;
    }
    PyObject *account = args[3];
    int buy = side == BUY;
    Side *s = &self->sides[buy ? 1 : 0];
    long long found = 0;
    for (Py_ssize_t i = s->len - 1; i >= 0; i--) {
        Level *level = s->items[i];
        if (buy ? level->price > limit : level->price < limit) {
            break;
        }
        for (OrderObject *maker = level->head; maker != NULL; maker = maker->next) {
            int own = same_account(maker, account);
            if (own < 0) {
                return NULL;
            }
            if (own) {
                continue;
            }
            long long available = maker->quantity - maker->filled;
            if (available > 0 && found > LLONG_MAX - available) {
                return PyLong_FromLongLong(lots); /* more than any int64 `lots` */
            }
            found += available;
            if (found >= lots) {
                return PyLong_FromLongLong(lots);
            }
        }
    }
    return PyLong_FromLongLong(found);
}

/* book.PyOrderBook.take, walked without taking (for hand_backs.c's hand_back_makers_listened):
 * would take(side, account, limit, lots) meet a maker of one of `accounts` (a set of names)?
 * 1, 0 or -1. It walks what take would: the account's own orders are skipped (take
 * cancels them), the others are consumed until `lots` are. */
int
book_meets_maker_of(BookObject *self, long long side, PyObject *account, long long limit,
                    long long lots, PyObject *accounts)
{
    int buy = side == BUY;
    Side *s = &self->sides[buy ? 1 : 0];
    for (Py_ssize_t i = s->len - 1; i >= 0 && lots > 0; i--) {
        Level *level = s->items[i];
        if (buy ? level->price > limit : level->price < limit) {
            break;
        }
        for (OrderObject *maker = level->head; maker != NULL && lots > 0; maker = maker->next) {
            int own = same_account(maker, account);
            if (own != 0) {
                if (own < 0) {
                    return -1;
                }
                continue;
            }
            int wanted = PySet_Contains(accounts, maker->account);
            if (wanted != 0) {
                return wanted;
            }
            long long available = maker->quantity - maker->filled;
            lots -= available < lots ? available : lots;
        }
    }
    return 0;
}
