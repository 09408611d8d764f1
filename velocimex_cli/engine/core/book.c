/* book.c <-> book.py: OrderBook, the C twin of book.PyOrderBook (price-time priority, integer
 * ticks and lots): the Python type, its lifecycle and attributes, and its methods' argument
 * checks.
 *
 * A twin too long for one file is split by the Python class's parts, each file named
 * book_*.c: the levels and the changes to them (rest, remove, take) are book_levels.c, the
 * queries book_queries.c.
 */
#include "_native.h"

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
