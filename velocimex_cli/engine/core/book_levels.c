/* book_levels.c <-> book.py: the OrderBook's levels (book.Level and PyOrderBook's sorted keys)
 * and the changes to them: an order rested, removed, or taken by a match.
 *
 * Layout. Each side of a book is an array of Level pointers sorted so the best level is last
 * (bids by ascending price, asks by descending price): the best level is found in O(1) and a
 * level is found, added or dropped with a binary search. A level keeps its orders in an
 * intrusive doubly-linked FIFO (prev/next/level inside the Order), so a cancel is a true O(1)
 * unlink and an empty level is freed at once. The book holds a strong reference to every
 * resting order; an order is resting exactly when its `level` pointer is set.
 *
 * book.c is the Python type (its methods parse their arguments and call here);
 * book_queries.c reads the book.
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
