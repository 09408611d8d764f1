/* book.c <-> book.py: OrderBook, the C twin of book.PyOrderBook (price-time priority, integer
 * ticks and lots).
 *
 * Layout. Each side of a book is an array of Level pointers sorted so the best level is last
 * (bids by ascending price, asks by descending price): the best level is found in O(1) and a
 * level is found, added or dropped with a binary search. A level keeps its orders in an
 * intrusive doubly-linked FIFO (prev/next/level inside the Order), so a cancel is a true O(1)
 * unlink and an empty level is freed at once. The book holds a strong reference to every
 * resting order; an order is resting exactly when its `level` pointer is set.
 */
#include "_native.h"

/* book.PyOrderBook's key order (bids by price, asks by negated price): is a level at price `a`
 * strictly worse than one at `b` on this side (nearer the array's start)? Bids: lower is
 * worse. Asks: higher is worse. */
static inline int
worse(int side, long long a, long long b)
{
    return side == BUY ? a < b : a > b;
}

/* bisect_left over book.PyOrderBook's keys: the index of the first level not worse than
 * `price`. */
static Py_ssize_t
side_bisect(Side *s, int side, long long price)
{
    Py_ssize_t lo = 0, hi = s->len;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (worse(side, s->items[mid]->price, price)) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

/* book.PyOrderBook.bids/asks.get(price): the level at `price`, or NULL. */
Level *
side_find(Side *s, int side, long long price)
{
    if (s->len == 0) {
        return NULL;
    }
    Level *best = s->items[s->len - 1];
    if (best->price == price) {
        return best;
    }
    Py_ssize_t i = side_bisect(s, side, price);
    if (i < s->len && s->items[i]->price == price) {
        return s->items[i];
    }
    return NULL;
}

/* book.PyOrderBook.rest's new level: `Level(price)` and `insort` of its key. */
static Level *
side_insert(BookObject *book, int side, long long price)
{
    Side *s = &book->sides[side];
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 16;
        Level **items = PyMem_Realloc(s->items, (size_t)cap * sizeof(Level *));
        if (items == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        s->items = items;
        s->cap = cap;
    }
    Level *level = PyMem_Malloc(sizeof(Level));
    if (level == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    level->price = price;
    level->quantity = 0;
    level->count = 0;
    level->head = level->tail = NULL;
    level->book = book;
    Py_ssize_t i = side_bisect(s, side, price);
    if (i < s->len) {
        memmove(&s->items[i + 1], &s->items[i], (size_t)(s->len - i) * sizeof(Level *));
    }
    s->items[i] = level;
    s->len++;
    return level;
}

/* book.PyOrderBook._drop_level */
static void
side_drop(Side *s, int side, Level *level)
{
    Py_ssize_t i;
    if (s->items[s->len - 1] == level) {
        i = s->len - 1;
    }
    else {
        i = side_bisect(s, side, level->price);
        memmove(&s->items[i], &s->items[i + 1], (size_t)(s->len - i - 1) * sizeof(Level *));
    }
    s->len--;
    PyMem_Free(level);
}

/* book.PyOrderBook.take/remove's unlink (`maker.resting = False`, `level.count -= 1`): take
 * an order out of its level's queue; the caller adjusts the level's totals and drops the
 * book's reference afterwards. */
static inline void
level_unlink(Level *level, OrderObject *order)
{
    if (order->prev != NULL) {
        order->prev->next = order->next;
    }
    else {
        level->head = order->next;
    }
    if (order->next != NULL) {
        order->next->prev = order->prev;
    }
    else {
        level->tail = order->prev;
    }
    order->prev = order->next = NULL;
    order->level = NULL;
    level->count--;
}

/* book.PyOrderBook's `touched.add((side, price))` when `touched` is not None. */
int
book_touch(BookObject *self, long long side, long long price)
{
    PyObject *touched = self->touched;
    if (touched == Py_None) {
        return 0;
    }
    PyObject *key = Py_BuildValue("(LL)", side, price);
    if (key == NULL) {
        return -1;
    }
    int rc;
    if (PyAnySet_Check(touched)) {
        rc = PySet_Add(touched, key);
    }
    else {
        PyObject *r = PyObject_CallMethod(touched, "add", "O", key);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    Py_DECREF(key);
    return rc;
}

/* book.PyOrderBook.__init__ */
static PyObject *
book_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "OrderBook() takes no arguments");
        return NULL;
    }
    BookObject *self = (BookObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->touched = Py_NewRef(Py_None);
    return (PyObject *)self;
}

/* (no Python twin: the book's references to its resting orders, dropped) */
static void
book_release_orders(BookObject *self)
{
    for (int side = 0; side < 2; side++) {
        Side *s = &self->sides[side];
        Level **items = s->items;
        Py_ssize_t len = s->len;
        s->items = NULL;
        s->len = s->cap = 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            Level *level = items[i];
            OrderObject *order = level->head;
            while (order != NULL) {
                OrderObject *next = order->next;
                order->prev = order->next = NULL;
                order->level = NULL;
                Py_DECREF(order);
                order = next;
            }
            PyMem_Free(level);
        }
        PyMem_Free(items);
    }
}

/* (no Python twin: the cyclic GC's visit) */
static int
book_traverse(BookObject *self, visitproc visit, void *arg)
{
    /* Orders are not GC objects and hold no cycles: only `touched` needs visiting. */
    Py_VISIT(self->touched);
    return 0;
}

/* (no Python twin: the cyclic GC's clear) */
static int
book_clear(BookObject *self)
{
    PyObject *old = self->touched;
    self->touched = Py_NewRef(Py_None);
    Py_XDECREF(old);
    return 0;
}

/* (no Python twin: the book's release) */
static void
book_dealloc(BookObject *self)
{
    PyObject_GC_UnTrack(self);
    book_release_orders(self);
    Py_CLEAR(self->touched);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* book.PyOrderBook.take/crosses/fillable's `limit`: a price limit beyond int64 cannot be
 * reached by any level, so it is clamped. */
static int
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

/* The book's methods take only C orders (no Python twin: PyOrderBook takes any order). */
static OrderObject *
arg_order(PyObject *value)
{
    if (!Order_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected a native Order, not %.100s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    return (OrderObject *)value;
}

/* book.PyOrderBook.best_bid */
static PyObject *
book_best_bid(BookObject *self, PyObject *unused)
{
    (void)unused;
    Side *s = &self->sides[0];
    if (s->len == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(s->items[s->len - 1]->price);
}

/* book.PyOrderBook.best_ask */
static PyObject *
book_best_ask(BookObject *self, PyObject *unused)
{
    (void)unused;
    Side *s = &self->sides[1];
    if (s->len == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(s->items[s->len - 1]->price);
}

/* book.PyOrderBook.level_quantity */
static PyObject *
book_level_quantity(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, price;
    if (check_nargs("level_quantity", nargs, 2) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_int64(args[1], &price, "price") < 0) {
        return NULL;
    }
    int s = side == BUY ? 0 : 1;
    Level *level = side_find(&self->sides[s], s, price);
    return PyLong_FromLongLong(level != NULL ? level->quantity : 0);
}

/* book.PyOrderBook.depth */
static PyObject *
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
static PyObject *
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
static PyObject *
book_level_orders(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, price;
    if (check_nargs("level_orders", nargs, 2) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_int64(args[1], &price, "price") < 0) {
        return NULL;
    }
    int s = side == BUY ? 0 : 1;
    Level *level = side_find(&self->sides[s], s, price);
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
static PyObject *
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
static PyObject *
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
static PyObject *
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

/* book.PyOrderBook.take, walked without taking (for native_path.c's hand_back_makers_listened):
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

/* book.PyOrderBook.rest: put an order at the back of its level; -1 with an exception set on
 * failure. */
int
book_rest_order(BookObject *self, OrderObject *order)
{
    if (order->level != NULL) {
        PyErr_Format(PyExc_ValueError, "order %lld is already resting", order->id);
        return -1;
    }
    int side = order->side == BUY ? 0 : 1;
    long long price = order->price;
    long long remaining = order->quantity - order->filled;
    Level *level = side_find(&self->sides[side], side, price);
    if (level != NULL && ((remaining > 0 && level->quantity > LLONG_MAX - remaining) ||
                          (remaining < 0 && level->quantity < LLONG_MIN - remaining))) {
        PyErr_SetString(PyExc_OverflowError, "level quantity exceeds a 64-bit integer");
        return -1;
    }
    if (level == NULL) {
        level = side_insert(self, side, price);
        if (level == NULL) {
            return -1;
        }
    }
    Py_INCREF(order);
    order->prev = level->tail;
    order->next = NULL;
    if (level->tail != NULL) {
        level->tail->next = order;
    }
    else {
        level->head = order;
    }
    level->tail = order;
    order->level = level;
    level->quantity += remaining;
    level->count++;
    self->changed = 1;
    return book_touch(self, order->side, price);
}

/* book.PyOrderBook.rest (the method) */
static PyObject *
book_rest(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL || book_rest_order(self, order) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* book.PyOrderBook.remove: take a resting order out of this book; -1 with an exception set on
 * failure. */
int
book_remove_order(BookObject *self, OrderObject *order)
{
    Level *level = order->level;
    if (level == NULL || level->book != self) {
        PyErr_Format(PyExc_ValueError, "order %lld is not resting in this book", order->id);
        return -1;
    }
    int side = order->side == BUY ? 0 : 1;
    level->quantity -= order->quantity - order->filled;
    level_unlink(level, order);
    if (level->count == 0) {
        side_drop(&self->sides[side], side, level);
    }
    self->changed = 1;
    int rc = book_touch(self, order->side, order->price);
    Py_DECREF(order); /* the book's reference; the caller still holds one */
    return rc;
}

/* book.PyOrderBook.remove (the method) */
static PyObject *
book_remove(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL || book_remove_order(self, order) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* book.PyOrderBook.resize(order, remaining): a resting order's remaining lots set in place,
 * keeping its place in the queue. Shrinking is always allowed; growing only for the last order
 * of its level (nothing behind it loses priority), else False and nothing changes. */
static PyObject *
book_resize(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long remaining;
    if (check_nargs("resize", nargs, 2) < 0) {
        return NULL;
    }
    OrderObject *order = arg_order(args[0]);
    if (order == NULL || arg_int64(args[1], &remaining, "remaining") < 0) {
        return NULL;
    }
    Level *level = order->level;
    if (level == NULL || level->book != self) {
        PyErr_Format(PyExc_ValueError, "order %lld is not resting in this book", order->id);
        return NULL;
    }
    if (remaining <= 0) {
        PyErr_SetString(PyExc_ValueError, "remaining must be positive (remove the order instead)");
        return NULL;
    }
    long long delta = remaining - (order->quantity - order->filled);
    if (delta > 0 && order != level->tail) {
        Py_RETURN_FALSE;
    }
    if (order->filled > LLONG_MAX - remaining ||
        (delta > 0 && level->quantity > LLONG_MAX - delta)) {
        PyErr_SetString(PyExc_OverflowError, "quantity exceeds a 64-bit integer");
        return NULL;
    }
    if (delta != 0) {
        order->quantity = order->filled + remaining;
        level->quantity += delta;
        self->changed = 1;
        if (book_touch(self, order->side, order->price) < 0) {
            return NULL;
        }
    }
    Py_RETURN_TRUE;
}

/* book.Fill: the tuple (maker, lots, price). */
static PyObject *
make_fill(OrderObject *maker, long long lots, PyObject *price)
{
    PyObject *fill = PyTuple_New(3);
    if (fill == NULL) {
        return NULL;
    }
    PyObject *lots_obj = PyLong_FromLongLong(lots);
    if (lots_obj == NULL) {
        Py_DECREF(fill);
        return NULL;
    }
    PyTuple_SET_ITEM(fill, 0, Py_NewRef(maker));
    PyTuple_SET_ITEM(fill, 1, lots_obj);
    PyTuple_SET_ITEM(fill, 2, Py_NewRef(price));
    return fill;
}

/* book.PyOrderBook.take: the list of (maker, lots, price) fills, or NULL with an exception set. */
PyObject *
book_take_fills(BookObject *self, long long side, PyObject *account, long long limit,
                long long lots, PyObject *self_trades)
{
    int buy = side == BUY;
    int maker_side = buy ? 1 : 0;
    Side *s = &self->sides[maker_side];
    PyObject *fills = PyList_New(0);
    if (fills == NULL) {
        return NULL;
    }
    while (lots != 0 && s->len != 0) {
        Level *level = s->items[s->len - 1];
        long long price = level->price;
        if (buy ? price > limit : price < limit) {
            break;
        }
        PyObject *price_obj = PyLong_FromLongLong(price);
        if (price_obj == NULL) {
            goto error;
        }
        while (lots != 0 && level->head != NULL) {
            OrderObject *maker = level->head;
            long long available = maker->quantity - maker->filled;
            int own = same_account(maker, account);
            if (own < 0) {
                Py_DECREF(price_obj);
                goto error;
            }
            if (own) {
                /* Self-trade prevention: the resting order leaves the book. */
                if (append_to(self_trades, (PyObject *)maker) < 0) {
                    Py_DECREF(price_obj);
                    goto error;
                }
                level->quantity -= available;
                level_unlink(level, maker);
                Py_DECREF(maker);
                continue;
            }
            long long traded = available <= lots ? available : lots;
            PyObject *fill = make_fill(maker, traded, price_obj);
            if (fill == NULL || PyList_Append(fills, fill) < 0) {
                Py_XDECREF(fill);
                Py_DECREF(price_obj);
                goto error;
            }
            Py_DECREF(fill);
            maker->filled += traded;
            level->quantity -= traded;
            lots -= traded;
            if (traded == available) {
                level_unlink(level, maker);
                Py_DECREF(maker); /* `fills` still holds it */
            }
        }
        Py_DECREF(price_obj);
        self->changed = 1;
        if (book_touch(self, maker_side, price) < 0) {
            goto error;
        }
        if (level->count == 0) {
            side_drop(s, maker_side, level);
        }
    }
    return fills;
error:
    Py_DECREF(fills);
    return NULL;
}

/* book.PyOrderBook.take (the method) */
static PyObject *
book_take(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, limit, lots;
    if (check_nargs("take", nargs, 5) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_limit(args[2], &limit) < 0 || arg_int64(args[3], &lots, "lots") < 0) {
        return NULL;
    }
    return book_take_fills(self, side, args[1], limit, lots, args[4]);
}

/* book.PyOrderBook.sequence */
static PyObject *
book_get_sequence(BookObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->sequence);
}

/* book.PyOrderBook.sequence, set */
static int
book_set_sequence(BookObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "sequence cannot be deleted");
        return -1;
    }
    return arg_int64(value, &self->sequence, "sequence");
}

/* book.PyOrderBook.changed */
static PyObject *
book_get_changed(BookObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->changed);
}

/* book.PyOrderBook.changed, set */
static int
book_set_changed(BookObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "changed cannot be deleted");
        return -1;
    }
    int truth = PyObject_IsTrue(value);
    if (truth < 0) {
        return -1;
    }
    self->changed = truth;
    return 0;
}

/* book.PyOrderBook.touched */
static PyObject *
book_get_touched(BookObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->touched);
}

/* book.PyOrderBook.touched, set */
static int
book_set_touched(BookObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "touched cannot be deleted");
        return -1;
    }
    PyObject *old = self->touched;
    self->touched = Py_NewRef(value);
    Py_XDECREF(old);
    return 0;
}

static PyGetSetDef book_getset[] = {
    {"sequence", (getter)book_get_sequence, (setter)book_set_sequence,
     "book sequence number", NULL},
    {"changed", (getter)book_get_changed, (setter)book_set_changed,
     "true when a level changed since the flag was last cleared", NULL},
    {"touched", (getter)book_get_touched, (setter)book_set_touched,
     "None, or the set of (side, price) levels changed during the current command", NULL},
    {NULL},
};

static PyMethodDef book_methods[] = {
    {"best_bid", (PyCFunction)book_best_bid, METH_NOARGS, "best bid price in ticks, or None"},
    {"best_ask", (PyCFunction)book_best_ask, METH_NOARGS, "best ask price in ticks, or None"},
    {"level_quantity", (PyCFunction)(void (*)(void))book_level_quantity, METH_FASTCALL,
     "level_quantity(side, price) -> lots resting at that level (0 if none)"},
    {"depth", (PyCFunction)(void (*)(void))book_depth, METH_FASTCALL,
     "depth(side, levels) -> [(price, quantity)] of the best levels, best first"},
    {"resting_orders", (PyCFunction)book_resting_orders, METH_O,
     "resting_orders(side) -> every resting order of a side, best price first, then time"},
    {"level_orders", (PyCFunction)(void (*)(void))book_level_orders, METH_FASTCALL,
     "level_orders(side, price) -> the orders resting at that level, oldest first"},
    {"resting_count", (PyCFunction)book_resting_count, METH_NOARGS,
     "number of resting orders on both sides"},
    {"crosses", (PyCFunction)(void (*)(void))book_crosses, METH_FASTCALL,
     "crosses(side, price) -> would a limit order at price take liquidity?"},
    {"fillable", (PyCFunction)(void (*)(void))book_fillable, METH_FASTCALL,
     "fillable(side, limit, lots, account) -> lots fillable up to limit, not counting the "
     "account's own"},
    {"rest", (PyCFunction)book_rest, METH_O,
     "rest(order): put its remaining quantity at the back of its price level"},
    {"remove", (PyCFunction)book_remove, METH_O, "remove(order): take a resting order out"},
    {"resize", (PyCFunction)(void (*)(void))book_resize, METH_FASTCALL,
     "resize(order, remaining) -> set a resting order's remaining lots in place (growing only "
     "the last order of its level); False if a growth was refused"},
    {"take", (PyCFunction)(void (*)(void))book_take, METH_FASTCALL,
     "take(side, account, limit, lots, self_trades) -> [(maker, lots, price)]"},
    {NULL},
};

PyTypeObject BookType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "velocimex_cli.engine.core._native.OrderBook",
    .tp_doc = "A central limit order book with price-time priority (see book.PyOrderBook).",
    .tp_basicsize = sizeof(BookObject),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = book_new,
    .tp_dealloc = (destructor)book_dealloc,
    .tp_traverse = (traverseproc)book_traverse,
    .tp_clear = (inquiry)book_clear,
    .tp_methods = book_methods,
    .tp_getset = book_getset,
};
