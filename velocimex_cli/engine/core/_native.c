/* The order and the order book in C: the same interfaces as orders.PyOrder and book.PyOrderBook.
 *
 * Why: a resting Python order is a GC-tracked object, and a book of a million of them makes
 * every full collection walk a million objects. An Order here holds no reference cycles
 * (strings, enum members, ints, its instrument), so it is *not* GC-tracked and costs the
 * collector nothing.
 *
 * Layout. Each side of a book is an array of Level pointers sorted so the best level is last
 * (bids by ascending price, asks by descending price): the best level is found in O(1) and a
 * level is found, added or dropped with a binary search. A level keeps its orders in an
 * intrusive doubly-linked FIFO (prev/next/level inside the Order), so a cancel is a true O(1)
 * unlink and an empty level is freed at once. The book holds a strong reference to every
 * resting order; an order is resting exactly when its `level` pointer is set.
 *
 * Prices and sizes are int64: the engine bounds both at 10**15 ticks/lots (instruments.py
 * MAX_STEPS). `filled_notional` stays a Python int (price x lots x units can exceed int64).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <limits.h>
#include <stddef.h>

#define BUY 0

/* Set once by _configure() from orders.py: Status.OPEN, Status.PARTIALLY_FILLED, SIDE_NAMES. */
static PyObject *status_open = NULL;
static PyObject *status_partially_filled = NULL;
static PyObject *side_names = NULL;

typedef struct Level Level;
typedef struct BookObject BookObject;

typedef struct OrderObject {
    PyObject_HEAD
    long long id;
    long long side;
    long long price;
    long long quantity;
    long long filled;
    long long created;
    long long updated;
    PyObject *account;
    PyObject *instrument;
    PyObject *type;
    PyObject *tif;
    PyObject *post_only;
    PyObject *client_id;
    PyObject *filled_notional;
    PyObject *status;
    PyObject *reason;
    /* Book links: set while resting. */
    struct OrderObject *prev;
    struct OrderObject *next;
    Level *level;
} OrderObject;

struct Level {
    long long price;
    long long quantity; /* sum of the resting orders' remaining lots */
    Py_ssize_t count;   /* resting orders */
    OrderObject *head;  /* oldest first */
    OrderObject *tail;
    BookObject *book;
};

typedef struct {
    Level **items; /* best level last */
    Py_ssize_t len;
    Py_ssize_t cap;
} Side;

struct BookObject {
    PyObject_HEAD
    Side sides[2];
    long long sequence;
    int changed;
    PyObject *touched; /* None or a set of (side, price) */
};

static PyTypeObject OrderType;
static PyTypeObject BookType;

#define Order_Check(op) Py_IS_TYPE((op), &OrderType)

/* ------------------------------------------------------------------------------ Order */

static int
order_init_fields(OrderObject *self, long long id, PyObject *account, PyObject *instrument,
                  long long side, PyObject *type, PyObject *tif, PyObject *post_only,
                  long long price, long long quantity, PyObject *client_id, long long created)
{
    if (status_open == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "velocimex_cli.engine.core._native is not configured: import it "
                        "through velocimex_cli.engine.core.orders");
        return -1;
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        return -1;
    }
    self->id = id;
    self->side = side;
    self->price = price;
    self->quantity = quantity;
    self->filled = 0;
    self->created = created;
    self->updated = created;
    self->account = Py_NewRef(account);
    self->instrument = Py_NewRef(instrument);
    self->type = Py_NewRef(type);
    self->tif = Py_NewRef(tif);
    self->post_only = Py_NewRef(post_only);
    self->client_id = Py_NewRef(client_id);
    self->filled_notional = zero;
    self->status = Py_NewRef(status_open);
    self->reason = Py_NewRef(Py_None);
    self->prev = self->next = NULL;
    self->level = NULL;
    return 0;
}

static char *order_kwlist[] = {"id", "account", "instrument", "side", "type", "tif",
                               "post_only", "price", "quantity", "client_id", "created", NULL};

static PyObject *
order_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    long long id, side, price, quantity, created;
    PyObject *account, *instrument, *otype, *tif, *post_only, *client_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LOOLOOOLLOL:Order", order_kwlist, &id,
                                     &account, &instrument, &side, &otype, &tif, &post_only,
                                     &price, &quantity, &client_id, &created)) {
        return NULL;
    }
    OrderObject *self = (OrderObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (order_init_fields(self, id, account, instrument, side, otype, tif, post_only, price,
                          quantity, client_id, created) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
as_int64(PyObject *value, long long *out)
{
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Order(...) with 11 positional arguments, the engine's only form, skips the tuple/dict
 * argument parsing; any other call goes through order_new. */
static PyObject *
order_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL && nargs == 11) {
        long long id, side, price, quantity, created;
        if (as_int64(args[0], &id) < 0 || as_int64(args[3], &side) < 0 ||
            as_int64(args[7], &price) < 0 || as_int64(args[8], &quantity) < 0 ||
            as_int64(args[10], &created) < 0) {
            return NULL;
        }
        PyTypeObject *tp = (PyTypeObject *)type;
        OrderObject *self = (OrderObject *)tp->tp_alloc(tp, 0);
        if (self == NULL) {
            return NULL;
        }
        if (order_init_fields(self, id, args[1], args[2], side, args[4], args[5], args[6], price,
                              quantity, args[9], created) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        return (PyObject *)self;
    }
    PyObject *tuple = PyTuple_New(nargs);
    if (tuple == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    }
    PyObject *kwargs = NULL;
    if (kwnames != NULL) {
        kwargs = PyDict_New();
        if (kwargs == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
                Py_DECREF(tuple);
                Py_DECREF(kwargs);
                return NULL;
            }
        }
    }
    PyObject *result = order_new((PyTypeObject *)type, tuple, kwargs);
    Py_DECREF(tuple);
    Py_XDECREF(kwargs);
    return result;
}

static void
order_dealloc(OrderObject *self)
{
    /* A resting order cannot get here: its book holds a reference to it. */
    Py_XDECREF(self->account);
    Py_XDECREF(self->instrument);
    Py_XDECREF(self->type);
    Py_XDECREF(self->tif);
    Py_XDECREF(self->post_only);
    Py_XDECREF(self->client_id);
    Py_XDECREF(self->filled_notional);
    Py_XDECREF(self->status);
    Py_XDECREF(self->reason);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
order_repr(OrderObject *self)
{
    PyObject *side = NULL, *key = NULL, *account = NULL, *status = NULL, *result = NULL;
    if (side_names == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_native is not configured");
        return NULL;
    }
    PyObject *side_obj = PyLong_FromLongLong(self->side);
    if (side_obj == NULL) {
        return NULL;
    }
    PyObject *side_name = PyObject_GetItem(side_names, side_obj);
    Py_DECREF(side_obj);
    if (side_name == NULL) {
        return NULL;
    }
    side = PyObject_Format(side_name, NULL);
    Py_DECREF(side_name);
    if (side == NULL) {
        goto done;
    }
    PyObject *key_obj = PyObject_GetAttrString(self->instrument, "key");
    if (key_obj == NULL) {
        goto done;
    }
    key = PyObject_Format(key_obj, NULL);
    Py_DECREF(key_obj);
    if (key == NULL) {
        goto done;
    }
    account = PyObject_Format(self->account, NULL);
    if (account == NULL) {
        goto done;
    }
    status = PyObject_Format(self->status, NULL);
    if (status == NULL) {
        goto done;
    }
    result = PyUnicode_FromFormat("Order(%lld %U %U %U %lld@%lld filled=%lld %U)", self->id,
                                  account, side, key, self->quantity, self->price, self->filled,
                                  status);
done:
    Py_XDECREF(side);
    Py_XDECREF(key);
    Py_XDECREF(account);
    Py_XDECREF(status);
    return result;
}

/* Object attributes: any value, but never deleted (the C code relies on them being set). */
static PyObject *
order_get_object(OrderObject *self, void *offset)
{
    PyObject *value = *(PyObject **)((char *)self + (size_t)offset);
    return Py_NewRef(value);
}

static int
order_set_object(OrderObject *self, PyObject *value, void *offset)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "Order attributes cannot be deleted");
        return -1;
    }
    PyObject **slot = (PyObject **)((char *)self + (size_t)offset);
    PyObject *old = *slot;
    *slot = Py_NewRef(value);
    Py_XDECREF(old);
    return 0;
}

static PyObject *
order_get_resting(OrderObject *self, void *closure)
{
    return PyBool_FromLong(self->level != NULL);
}

static PyObject *
order_get_remaining(OrderObject *self, void *closure)
{
    return PyLong_FromLongLong(self->quantity - self->filled);
}

static PyObject *
order_get_is_live(OrderObject *self, void *closure)
{
    return PyBool_FromLong(self->status == status_open ||
                           self->status == status_partially_filled);
}

#define OBJECT_FIELD(name, doc)                                                                 \
    {#name, (getter)order_get_object, (setter)order_set_object, doc,                          \
     (void *)offsetof(OrderObject, name)}

static PyGetSetDef order_getset[] = {
    OBJECT_FIELD(account, "account name (str)"),
    OBJECT_FIELD(instrument, "the Instrument"),
    OBJECT_FIELD(type, "OrderType"),
    OBJECT_FIELD(tif, "TimeInForce"),
    OBJECT_FIELD(post_only, "post-only flag"),
    OBJECT_FIELD(client_id, "client order id or None"),
    OBJECT_FIELD(filled_notional, "sum of price x lots x notional units of the fills"),
    OBJECT_FIELD(status, "Status"),
    OBJECT_FIELD(reason, "Reason or None"),
    {"resting", (getter)order_get_resting, NULL, "true while the order sits in a book", NULL},
    {"remaining", (getter)order_get_remaining, NULL, "quantity - filled, in lots", NULL},
    {"is_live", (getter)order_get_is_live, NULL, "status is open or partially filled", NULL},
    {NULL},
};

static PyMemberDef order_members[] = {
    {"id", T_LONGLONG, offsetof(OrderObject, id), 0, NULL},
    {"side", T_LONGLONG, offsetof(OrderObject, side), 0, NULL},
    {"price", T_LONGLONG, offsetof(OrderObject, price), 0, "ticks"},
    {"quantity", T_LONGLONG, offsetof(OrderObject, quantity), 0, "lots"},
    {"filled", T_LONGLONG, offsetof(OrderObject, filled), 0, "lots"},
    {"created", T_LONGLONG, offsetof(OrderObject, created), 0, "microseconds"},
    {"updated", T_LONGLONG, offsetof(OrderObject, updated), 0, "microseconds"},
    {NULL},
};

static PyTypeObject OrderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "velocimex_cli.engine.core._native.Order",
    .tp_doc = "One order: price in ticks, sizes in lots (see orders.PyOrder).",
    .tp_basicsize = sizeof(OrderObject),
    .tp_itemsize = 0,
    /* Deliberately no Py_TPFLAGS_HAVE_GC and not subclassable: see the top of this file. */
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = order_new,
    .tp_vectorcall = order_vectorcall,
    .tp_dealloc = (destructor)order_dealloc,
    .tp_repr = (reprfunc)order_repr,
    .tp_members = order_members,
    .tp_getset = order_getset,
};

/* ------------------------------------------------------------------------------ levels */

/* Is a level at price `a` strictly worse than one at `b` on this side (nearer the array's
 * start)? Bids: lower is worse. Asks: higher is worse. */
static inline int
worse(int side, long long a, long long b)
{
    return side == BUY ? a < b : a > b;
}

/* Index of the first level not worse than `price` (bisect_left). */
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

static Level *
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

/* Take an order out of its level's queue; the caller adjusts the level's totals and drops the
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

/* ------------------------------------------------------------------------------ OrderBook */

static int
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

static int
book_traverse(BookObject *self, visitproc visit, void *arg)
{
    /* Orders are not GC objects and hold no cycles: only `touched` needs visiting. */
    Py_VISIT(self->touched);
    return 0;
}

static int
book_clear(BookObject *self)
{
    PyObject *old = self->touched;
    self->touched = Py_NewRef(Py_None);
    Py_XDECREF(old);
    return 0;
}

static void
book_dealloc(BookObject *self)
{
    PyObject_GC_UnTrack(self);
    book_release_orders(self);
    Py_CLEAR(self->touched);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
arg_int64(PyObject *value, long long *out, const char *name)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    return as_int64(value, out);
}

/* A price limit beyond int64 cannot be reached by any level: clamp it. */
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

static int
check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t expected)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", name,
                     expected, nargs);
        return -1;
    }
    return 0;
}

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

static PyObject *
book_best_bid(BookObject *self, PyObject *unused)
{
    Side *s = &self->sides[0];
    if (s->len == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(s->items[s->len - 1]->price);
}

static PyObject *
book_best_ask(BookObject *self, PyObject *unused)
{
    Side *s = &self->sides[1];
    if (s->len == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(s->items[s->len - 1]->price);
}

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

static PyObject *
book_resting_count(BookObject *self, PyObject *unused)
{
    Py_ssize_t total = 0;
    for (int side = 0; side < 2; side++) {
        Side *s = &self->sides[side];
        for (Py_ssize_t i = 0; i < s->len; i++) {
            total += s->items[i]->count;
        }
    }
    return PyLong_FromSsize_t(total);
}

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

/* Is this maker's account the given one? (== on the account objects, identity first.) */
static inline int
same_account(OrderObject *maker, PyObject *account)
{
    if (maker->account == account) {
        return 1;
    }
    return PyObject_RichCompareBool(maker->account, account, Py_EQ);
}

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

/* Would book.take(side, account, limit, lots) meet a maker of one of `accounts` (a set of
 * names)? 1, 0 or -1. It walks what take would: the account's own orders are skipped (take
 * cancels them), the others are consumed until `lots` are. */
static int
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

/* Put an order at the back of its level (book.rest); -1 with an exception set on failure. */
static int
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

static PyObject *
book_rest(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL || book_rest_order(self, order) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Take a resting order out of this book (book.remove); -1 with an exception set on failure. */
static int
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

static PyObject *
book_remove(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL || book_remove_order(self, order) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* resize(order, remaining): a resting order's remaining lots set in place, keeping its place in
 * the queue. Shrinking is always allowed; growing only for the last order of its level (nothing
 * behind it loses priority), else False and nothing changes. */
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

static int
append_to(PyObject *list, PyObject *item)
{
    if (PyList_CheckExact(list)) {
        return PyList_Append(list, item);
    }
    PyObject *r = PyObject_CallMethod(list, "append", "O", item);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

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

/* book.take: the list of (maker, lots, price) fills, or NULL with an exception set. */
static PyObject *
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

static PyObject *
book_get_sequence(BookObject *self, void *closure)
{
    return PyLong_FromLongLong(self->sequence);
}

static int
book_set_sequence(BookObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "sequence cannot be deleted");
        return -1;
    }
    return arg_int64(value, &self->sequence, "sequence");
}

static PyObject *
book_get_changed(BookObject *self, void *closure)
{
    return PyBool_FromLong(self->changed);
}

static int
book_set_changed(BookObject *self, PyObject *value, void *closure)
{
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

static PyObject *
book_get_touched(BookObject *self, void *closure)
{
    return Py_NewRef(self->touched);
}

static int
book_set_touched(BookObject *self, PyObject *value, void *closure)
{
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

static PyTypeObject BookType = {
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

/* ------------------------------------------------------------------------------ FillRecord */

/* One side of a trade (fills.PyFillRecord is the reference): read-only, and like Order not
 * GC-tracked, since an account keeps every fill it ever had. The integer fields are int64. */
typedef struct {
    PyObject_HEAD
    long long trade_id;
    long long price;
    long long lots;
    long long fee;
    long long timestamp;
    PyObject *order;
    PyObject *liquidity;
} FillRecordObject;

static PyTypeObject FillRecordType;

static PyObject *
fill_record_make(long long trade_id, PyObject *order, long long price, long long lots,
                 long long fee, PyObject *liquidity, long long timestamp)
{
    FillRecordObject *self = PyObject_New(FillRecordObject, &FillRecordType);
    if (self == NULL) {
        return NULL;
    }
    self->trade_id = trade_id;
    self->price = price;
    self->lots = lots;
    self->fee = fee;
    self->timestamp = timestamp;
    self->order = Py_NewRef(order);
    self->liquidity = Py_NewRef(liquidity);
    return (PyObject *)self;
}

static PyObject *
fill_record_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL || nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "FillRecord(trade_id, order, price, lots, fee, "
                                         "liquidity, timestamp) takes 7 positional arguments");
        return NULL;
    }
    long long trade_id, price, lots, fee, timestamp;
    if (arg_int64(args[0], &trade_id, "trade_id") < 0 || arg_int64(args[2], &price, "price") < 0 ||
        arg_int64(args[3], &lots, "lots") < 0 || arg_int64(args[4], &fee, "fee") < 0 ||
        arg_int64(args[6], &timestamp, "timestamp") < 0) {
        return NULL;
    }
    return fill_record_make(trade_id, args[1], price, lots, fee, args[5], timestamp);
}

static PyObject *
fill_record_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "FillRecord takes positional arguments only");
        return NULL;
    }
    return fill_record_vectorcall((PyObject *)type, &PyTuple_GET_ITEM(args, 0),
                                  (size_t)PyTuple_GET_SIZE(args), NULL);
}

static void
fill_record_dealloc(FillRecordObject *self)
{
    Py_XDECREF(self->order);
    Py_XDECREF(self->liquidity);
    PyObject_Free(self);
}

static PyMemberDef fill_record_members[] = {
    {"trade_id", T_LONGLONG, offsetof(FillRecordObject, trade_id), READONLY, NULL},
    {"price", T_LONGLONG, offsetof(FillRecordObject, price), READONLY, "ticks"},
    {"lots", T_LONGLONG, offsetof(FillRecordObject, lots), READONLY, NULL},
    {"fee", T_LONGLONG, offsetof(FillRecordObject, fee), READONLY, "ledger units"},
    {"timestamp", T_LONGLONG, offsetof(FillRecordObject, timestamp), READONLY, "microseconds"},
    {"order", T_OBJECT_EX, offsetof(FillRecordObject, order), READONLY, NULL},
    {"liquidity", T_OBJECT_EX, offsetof(FillRecordObject, liquidity), READONLY,
     "'maker' or 'taker'"},
    {NULL},
};

static PyTypeObject FillRecordType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "velocimex_cli.engine.core._native.FillRecord",
    .tp_doc = "One side of a trade, as its account sees it (see fills.PyFillRecord).",
    .tp_basicsize = sizeof(FillRecordObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = fill_record_new,
    .tp_vectorcall = fill_record_vectorcall,
    .tp_dealloc = (destructor)fill_record_dealloc,
    .tp_members = fill_record_members,
};

/* ------------------------------------------------------------------------------ engine path
 *
 * The engine's commonest commands in C, over the same Python state the pure-Python engine
 * keeps (the Exchange's attributes, accounts' `balances` lists, `Position`s, `MarketStats`,
 * `FillRecord`s, the store's `Changes`): native_path.py is the Python side, and matching.py /
 * settlement.py / commands.py are the reference these functions follow step by step.
 *
 * - place(exchange, account, instrument, side, lots, price, tif, client_id):
 *   entry.OrderEntry._check, risk.record and matching.Matching._execute for an order without
 *   post-only that is GTC or IOC and whose client_order_id (if any) is not a replay of a live
 *   order (the Python path returns that original). Everything that can refuse (balance, risk limits, session
 *   hours, no liquidity for a market order, a number beyond int64) is decided before anything
 *   changes: then it returns None and the caller runs the Python path, which raises or rejects
 *   exactly as before.
 * - cancel(exchange, account, order): Exchange.cancel_live (False: run the Python path).
 *
 * Both run while listeners are attached as long as the only events the command would build
 * are its public trades and its own account's order and fill events: no listener wants book
 * events, the listeners' accounts (`_event_accounts`) are named and, for place, include no
 * account of a maker the order would meet (other than its own, whose makers are canceled as
 * self-trades). The events are then built by Python callbacks at the points, and in the
 * order, where matching.py / settlement.py append them (`trade_event`, `order_event`,
 * `fill_event`) and delivered by `_commit`.
 * - settle(exchange, taker_account, taker, fills): settlement.Settlement._settle_fills while
 *   no events are collected. Each fill is first computed in 128-bit integers and checked to fit
 *   64 bits before anything is written; a fill that does not fit (never in practice) and every
 *   fill after it are handed to the Python loop, which is exact for any size.
 */

typedef __int128 i128;

#define FAST_OK 0
#define FAST_FALLBACK 1 /* not handled here: nothing was changed, run the Python path */

/* Set once by _configure_engine() from native_path.py. */
static struct {
    PyObject *user, *crypto, *limit, *market, *gtc, *ioc;
    PyObject *filled, *partially_filled, *canceled;
    PyObject *canceled_by_user, *ioc_remainder, *market_protection, *no_liquidity, *self_trade;
    PyObject *position_type, *fill_record_type, *fee_account, *to_micros, *trade_event;
    PyObject *order_event, *fill_event;
} E;

/* Interned attribute names. */
static PyObject *s__listeners, *s__events, *s__always_open, *s_books, *s_config,
    *s_market_protection_bps, *s__lock_bps, *s__maker_bps, *s__taker_bps, *s_next_order_id,
    *s_next_trade_id, *s__now, *s_clock, *s__moment, *s__moment_micros, *s__command_books,
    *s__changes, *s__traded, *s__schedule_flush, *s__pending_events, *s__flush_pending,
    *s_ledger, *s_stats, *s__commit, *s__settle_fills, *s_index, *s_venue, *s_kind, *s_quote,
    *s_base, *s_notional_units, *s_lot_units, *s_balances, *s_orders, *s_positions, *s_name,
    *s_open_orders, *s_risk, *s_fills, *s_accounts, *s_fees, *s_limits, *s_recent,
    *s_price_band_bps, *s_max_order_notional, *s_max_open_orders, *s_max_orders_per_second,
    *s_trades, *s_quantity, *s_cost, *s_realized, *s_last_price, *s_volume, *s_append,
    *s_popleft, *s_taker, *s_maker, *s__book_events, *s__event_accounts, *s__micros_clock,
    *s_micros, *s_client_ids, *s_accepted, *s_filled_event, *s_partially_filled_event, *s_canceled_event;

static int
intern_engine_names(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s__listeners, "_listeners"}, {&s__events, "_events"},
        {&s__always_open, "_always_open"}, {&s_books, "books"}, {&s_config, "config"},
        {&s_market_protection_bps, "market_protection_bps"}, {&s__lock_bps, "_lock_bps"},
        {&s__maker_bps, "_maker_bps"}, {&s__taker_bps, "_taker_bps"},
        {&s_next_order_id, "next_order_id"}, {&s_next_trade_id, "next_trade_id"},
        {&s__now, "_now"}, {&s_clock, "clock"}, {&s__moment, "_moment"},
        {&s__moment_micros, "_moment_micros"}, {&s__command_books, "_command_books"},
        {&s__changes, "_changes"}, {&s__traded, "_traded"},
        {&s__schedule_flush, "_schedule_flush"}, {&s__pending_events, "_pending_events"},
        {&s__flush_pending, "_flush_pending"}, {&s_ledger, "ledger"}, {&s_stats, "stats"},
        {&s__commit, "_commit"}, {&s__settle_fills, "_settle_fills"}, {&s_index, "index"},
        {&s_venue, "venue"}, {&s_kind, "kind"}, {&s_quote, "quote"}, {&s_base, "base"},
        {&s_notional_units, "notional_units"}, {&s_lot_units, "lot_units"},
        {&s_balances, "balances"}, {&s_orders, "orders"}, {&s_positions, "positions"},
        {&s_name, "name"}, {&s_open_orders, "open_orders"}, {&s_risk, "risk"},
        {&s_fills, "fills"}, {&s_accounts, "accounts"}, {&s_fees, "fees"},
        {&s_limits, "limits"}, {&s_recent, "recent"}, {&s_price_band_bps, "price_band_bps"},
        {&s_max_order_notional, "max_order_notional"},
        {&s_max_open_orders, "max_open_orders"},
        {&s_max_orders_per_second, "max_orders_per_second"}, {&s_trades, "trades"},
        {&s_quantity, "quantity"}, {&s_cost, "cost"}, {&s_realized, "realized"},
        {&s_last_price, "last_price"}, {&s_volume, "volume"}, {&s_append, "append"},
        {&s_popleft, "popleft"}, {&s_taker, "taker"}, {&s_maker, "maker"},
        {&s__book_events, "_book_events"}, {&s__event_accounts, "_event_accounts"},
        {&s__micros_clock, "_micros_clock"}, {&s_micros, "micros"},
        {&s_client_ids, "client_ids"}, {&s_accepted, "accepted"}, {&s_filled_event, "filled"},
        {&s_partially_filled_event, "partially_filled"}, {&s_canceled_event, "canceled"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) {
            return -1;
        }
    }
    return 0;
}

static inline int
fits64(i128 v)
{
    return v >= LLONG_MIN && v <= LLONG_MAX;
}

/* Python's a // b for b > 0. */
static inline i128
floordiv(i128 a, long long b)
{
    i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* a * b in 128 bits; 0 if it overflows. */
static inline int
mul128(i128 a, i128 b, i128 *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* An int as int64: FAST_OK, FAST_FALLBACK (not an int, or beyond int64), or -1 (error). */
static int
get_ll(PyObject *value, long long *out)
{
    if (!PyLong_Check(value)) {
        return FAST_FALLBACK;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow) {
        return FAST_FALLBACK;
    }
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return FAST_OK;
}

static int
attr_ll(PyObject *obj, PyObject *name, long long *out)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) {
        return -1;
    }
    int rc = get_ll(value, out);
    Py_DECREF(value);
    return rc;
}

static int
set_attr_ll(PyObject *obj, PyObject *name, long long v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, value);
    Py_DECREF(value);
    return rc;
}

/* The Exchange's attribute from its __dict__ (borrowed), or NULL with AttributeError. */
static PyObject *
ex_get(PyObject *exd, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(exd, name);
    if (value == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_AttributeError, name);
    }
    return value;
}

static int
ex_get_ll(PyObject *exd, PyObject *name, long long *out)
{
    PyObject *value = ex_get(exd, name);
    return value == NULL ? -1 : get_ll(value, out);
}

static int
ex_set_ll(PyObject *exd, PyObject *name, long long v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(exd, name, value);
    Py_DECREF(value);
    return rc;
}

/* An exact Python int of a 128-bit value. */
static PyObject *
pylong_from_i128(i128 v)
{
    if (fits64(v)) {
        return PyLong_FromLongLong((long long)v);
    }
    unsigned char bytes[16];
    unsigned __int128 u = (unsigned __int128)v;
    for (int i = 0; i < 16; i++) {
        bytes[i] = (unsigned char)(u >> (8 * i));
    }
    return _PyLong_FromByteArray(bytes, 16, 1, 1);
}

/* list[i] += delta, exact for any size. */
static int
list_add(PyObject *list, Py_ssize_t i, i128 delta)
{
    PyObject *item = PyList_GET_ITEM(list, i);
    long long v;
    int rc = get_ll(item, &v);
    if (rc < 0) {
        return -1;
    }
    PyObject *result;
    if (rc == FAST_OK) {
        result = pylong_from_i128((i128)v + delta);
    }
    else {
        PyObject *d = pylong_from_i128(delta);
        if (d == NULL) {
            return -1;
        }
        result = PyNumber_Add(item, d);
        Py_DECREF(d);
    }
    if (result == NULL) {
        return -1;
    }
    PyList_SetItem(list, i, result);
    return 0;
}

static int
list_set_ll(PyObject *list, Py_ssize_t i, long long v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return -1;
    }
    PyList_SetItem(list, i, value);
    return 0;
}

/* attribute += delta on a Python int attribute, exact for any size. */
static int
attr_add(PyObject *obj, PyObject *name, long long delta)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) {
        return -1;
    }
    PyObject *d = PyLong_FromLongLong(delta);
    PyObject *result = d == NULL ? NULL : PyNumber_Add(value, d);
    Py_DECREF(value);
    Py_XDECREF(d);
    if (result == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, result);
    Py_DECREF(result);
    return rc;
}

/* A balance entry [total, locked] (borrowed), or NULL: none (no exception) or an error. */
static PyObject *
balance_entry(PyObject *balances, PyObject *asset)
{
    if (!PyDict_CheckExact(balances)) {
        return NULL;
    }
    PyObject *entry = PyDict_GetItemWithError(balances, asset);
    if (entry != NULL && (!PyList_CheckExact(entry) || PyList_GET_SIZE(entry) != 2)) {
        return NULL;
    }
    return entry;
}

/* Account.balance(asset): the entry, created as [0, 0] if missing (borrowed). */
static PyObject *
balance_entry_or_new(PyObject *balances, PyObject *asset)
{
    PyObject *entry = balance_entry(balances, asset);
    if (entry != NULL || PyErr_Occurred() || !PyDict_CheckExact(balances)) {
        return entry;
    }
    entry = Py_BuildValue("[ii]", 0, 0);
    if (entry == NULL) {
        return NULL;
    }
    int rc = PyDict_SetItem(balances, asset, entry);
    Py_DECREF(entry);
    return rc < 0 ? NULL : entry;
}

static void
order_set_status(OrderObject *order, PyObject *status)
{
    Py_SETREF(order->status, Py_NewRef(status));
}

static void
order_set_reason(OrderObject *order, PyObject *reason)
{
    Py_SETREF(order->reason, Py_NewRef(reason));
}

static int
append_item(PyObject *list, PyObject *item)
{
    return append_to(list, item);
}

/* container.add((a, b)) for a set of pairs. */
static int
set_add_pair(PyObject *set, PyObject *a, PyObject *b)
{
    PyObject *pair = PyTuple_Pack(2, a, b);
    if (pair == NULL) {
        return -1;
    }
    int rc = PySet_Add(set, pair);
    Py_DECREF(pair);
    return rc;
}

static int
dict_set_order(PyObject *dict, OrderObject *order)
{
    PyObject *id = PyLong_FromLongLong(order->id);
    if (id == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(dict, id, (PyObject *)order);
    Py_DECREF(id);
    return rc;
}

/* What one command reads of the Exchange, held for its duration. */
typedef struct {
    PyObject *exchange;
    PyObject *exd;     /* its __dict__ */
    PyObject *changes; /* None or the store's Changes */
    PyObject *changes_balances, *changes_orders, *changes_fills, *changes_positions,
        *changes_trades;
    PyObject *events;     /* with listeners: the command's events (its trades), else NULL */
    PyObject *interested; /* with listeners: the frozenset of accounts they want, else NULL */
    int own;              /* a listener wants the command's account's order and fill events */
    long long lock_bps;
} Command;

static void
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

/* Commands._emit_order for an order of the command's account: built only if wanted. */
static int
emit_order(Command *c, OrderObject *order, PyObject *event)
{
    if (!c->own) {
        return 0;
    }
    PyObject *built = PyObject_CallFunctionObjArgs(E.order_event, (PyObject *)order, event, NULL);
    int rc = built == NULL ? -1 : PyList_Append(c->events, built);
    Py_XDECREF(built);
    return rc;
}

/* With listeners attached: FAST_OK when the command of `account` (a name; NULL: a command
 * that must not run with listeners) would build no event but its trades and its account's
 * order and fill events (see the top of this section), then `c->events` collects them and
 * `c->own` says whether the account's are wanted; else FAST_FALLBACK, or -1. */
static int
command_open_listened(Command *c, PyObject *account)
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
    c->own = wanted;
    c->interested = Py_NewRef(accounts);
    c->events = PyList_New(0);
    return c->events == NULL ? -1 : FAST_OK;
}

/* FAST_OK, FAST_FALLBACK (a listener needs events this command of `account` would build, or
 * a number is beyond int64), or -1. */
static int
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
    if (!PyList_CheckExact(listeners) || events != Py_None) {
        return FAST_FALLBACK;
    }
    if (PyList_GET_SIZE(listeners) != 0) {
        int rc = command_open_listened(c, account);
        if (rc != FAST_OK) {
            return rc;
        }
    }
    int rc = ex_get_ll(c->exd, s__lock_bps, &c->lock_bps);
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
        if (!PyAnySet_Check(c->changes_balances) || !PyAnySet_Check(c->changes_positions) ||
            !PyDict_CheckExact(c->changes_orders)) {
            return FAST_FALLBACK;
        }
    }
    return FAST_OK;
}

/* Commands._micros: a MicrosClock's `micros`, else the clock's microseconds, converted once
 * per datetime it returns. */
static int
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

/* Commands._begin: with listeners, the command's events are collected in `c->events` (also
 * the Exchange's `_events`, for the Python fill loop `settle_fills` may hand fills to). */
static int
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

/* Commands._touch_book without listeners: note the book, no best prices needed. */
static int
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

/* Commands._finish without book events: bump the changed books' sequences, hand the
 * command's events (its trades) on, then commit. */
static int
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

/* locks.lock_for: what `lots` of an order of `side` at `price` lock, in 128 bits (0: it
 * overflows). */
static int
lock_for_lots(long long side, long long price, long long lots, long long notional_units,
              long long lot_units, long long lock_bps, i128 *out)
{
    i128 v;
    if (side == BUY) {
        i128 notional, fee;
        if (!mul128(price, lots, &v) || !mul128(v, notional_units, &notional) ||
            !mul128(notional, lock_bps, &fee)) {
            return 0;
        }
        *out = notional + floordiv(fee, 10000);
        return 1;
    }
    return mul128(lots, lot_units, out);
}

/* Matching._order_closed. */
static int
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

/* Matching._release: end a live order, unlocking what it still holds. */
static int
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
                      c->lock_bps, &lock)) {
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

/* Position.apply(lots, notional) then `realized -= fee`, on int64 values in 128 bits. */
static void
position_apply(long long *quantity, long long cost, long long realized, long long lots,
               long long notional, long long fee, i128 *new_quantity, i128 *new_cost,
               i128 *new_realized)
{
    i128 qty = *quantity;
    i128 signed_ = lots > 0 ? (i128)notional : -(i128)notional;
    if (qty == 0 || (qty > 0) == (lots > 0)) {
        *new_quantity = qty + lots;
        *new_cost = cost + signed_;
        *new_realized = (i128)realized - fee;
        return;
    }
    i128 abs_lots = lots < 0 ? -(i128)lots : lots;
    i128 abs_qty = qty < 0 ? -qty : qty;
    i128 closing = abs_lots < abs_qty ? abs_lots : abs_qty;
    /* _pro_rata: amount x part / whole, truncated towards zero (all factors < 2**64). */
    i128 abs_cost = cost < 0 ? -(i128)cost : cost;
    i128 closed_cost = abs_cost * closing / abs_qty;
    if (cost < 0) {
        closed_cost = -closed_cost;
    }
    i128 closed_flow = (signed_ < 0 ? -signed_ : signed_) * closing / abs_lots;
    if (signed_ < 0) {
        closed_flow = -closed_flow;
    }
    i128 after = qty + lots;
    *new_realized = (i128)realized - (closed_flow + closed_cost) - fee;
    *new_quantity = after;
    if (after == 0) {
        *new_cost = 0;
    }
    else if ((after > 0) == (qty > 0)) {
        *new_cost = cost - closed_cost;
    }
    else {
        *new_cost = signed_ - closed_flow;
    }
}

/* A position's fields as int64 (FAST_FALLBACK if one is not). */
static int
position_read(PyObject *position, long long *q, long long *c, long long *r)
{
    int rc = attr_ll(position, s_quantity, q);
    if (rc == FAST_OK) {
        rc = attr_ll(position, s_cost, c);
    }
    if (rc == FAST_OK) {
        rc = attr_ll(position, s_realized, r);
    }
    return rc;
}

static int
position_write(PyObject *position, i128 q, i128 c, i128 r)
{
    if (set_attr_ll(position, s_quantity, (long long)q) < 0 ||
        set_attr_ll(position, s_cost, (long long)c) < 0 ||
        set_attr_ll(position, s_realized, (long long)r) < 0) {
        return -1;
    }
    return 0;
}

/* positions.get(index) or positions.setdefault(index, Position()) (new reference). */
static PyObject *
position_of(PyObject *account, PyObject *index)
{
    PyObject *positions = PyObject_GetAttr(account, s_positions);
    if (positions == NULL) {
        return NULL;
    }
    PyObject *position = PyDict_GetItemWithError(positions, index);
    if (position != NULL) {
        Py_INCREF(position);
    }
    else if (!PyErr_Occurred()) {
        position = PyObject_CallNoArgs(E.position_type);
        if (position != NULL && PyDict_SetItem(positions, index, position) < 0) {
            Py_CLEAR(position);
        }
    }
    Py_DECREF(positions);
    return position;
}

/* MarketStats.record(now, price, lots). */
static int
stats_record(PyObject *stats, long long now, PyObject *price, PyObject *lots)
{
    int rc = -1;
    PyObject *trades = NULL, *volume = NULL, *horizon = NULL, *entry = NULL, *r = NULL;
    if (PyObject_SetAttr(stats, s_last_price, price) < 0) {
        return -1;
    }
    trades = PyObject_GetAttr(stats, s_trades);
    if (trades == NULL) {
        return -1;
    }
    entry = Py_BuildValue("(LO)", now, lots);
    if (entry == NULL) {
        goto done;
    }
    r = PyObject_CallMethodOneArg(trades, s_append, entry);
    Py_CLEAR(entry);
    if (r == NULL) {
        goto done;
    }
    Py_CLEAR(r);
    volume = PyObject_GetAttr(stats, s_volume);
    if (volume == NULL) {
        goto done;
    }
    Py_SETREF(volume, PyNumber_Add(volume, lots));
    horizon = volume == NULL ? NULL : pylong_from_i128((i128)now - 86400LL * 1000000LL);
    if (horizon == NULL) {
        goto done;
    }
    for (;;) { /* MarketStats.expire */
        Py_ssize_t size = PyObject_Length(trades);
        if (size < 0) {
            goto done;
        }
        if (size == 0) {
            break;
        }
        entry = PySequence_GetItem(trades, 0);
        PyObject *when = entry == NULL ? NULL : PySequence_GetItem(entry, 0);
        Py_CLEAR(entry);
        if (when == NULL) {
            goto done;
        }
        int old = PyObject_RichCompareBool(when, horizon, Py_LE);
        Py_DECREF(when);
        if (old < 0) {
            goto done;
        }
        if (!old) {
            break;
        }
        entry = PyObject_CallMethodNoArgs(trades, s_popleft);
        PyObject *gone = entry == NULL ? NULL : PySequence_GetItem(entry, 1);
        Py_CLEAR(entry);
        if (gone == NULL) {
            goto done;
        }
        Py_SETREF(volume, PyNumber_Subtract(volume, gone));
        Py_DECREF(gone);
        if (volume == NULL) {
            goto done;
        }
    }
    rc = PyObject_SetAttr(stats, s_volume, volume);
done:
    Py_XDECREF(trades);
    Py_XDECREF(volume);
    Py_XDECREF(horizon);
    return rc;
}

/* Settlement._record_fill; `own`: the fill is of the command's account (its FillEvent is
 * built if wanted), else of an account no listener wants. */
static int
record_fill(Command *c, PyObject *account, long long trade_id, OrderObject *order,
            PyObject *price, PyObject *lots, long long fee, PyObject *liquidity, long long now,
            int own)
{
    PyObject *args[7] = {NULL};
    args[0] = PyLong_FromLongLong(trade_id);
    args[1] = (PyObject *)order;
    args[2] = price;
    args[3] = lots;
    args[4] = PyLong_FromLongLong(fee);
    args[5] = liquidity;
    args[6] = PyLong_FromLongLong(now);
    PyObject *record = NULL, *fills = NULL;
    int rc = -1;
    if (args[0] == NULL || args[4] == NULL || args[6] == NULL) {
        goto done;
    }
    record = E.fill_record_type == (PyObject *)&FillRecordType
                 ? fill_record_make(trade_id, (PyObject *)order, 0, 0, fee, liquidity, now)
                 : PyObject_Vectorcall(E.fill_record_type, args, 7, NULL);
    if (record != NULL && E.fill_record_type == (PyObject *)&FillRecordType) {
        FillRecordObject *r = (FillRecordObject *)record;
        if (get_ll(price, &r->price) != FAST_OK || get_ll(lots, &r->lots) != FAST_OK) {
            Py_CLEAR(record);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_OverflowError, "a fill beyond 64 bits");
            }
        }
    }
    if (record == NULL) {
        goto done;
    }
    fills = PyObject_GetAttr(account, s_fills);
    if (fills == NULL || append_item(fills, record) < 0) {
        goto done;
    }
    if (c->changes_fills != NULL && append_item(c->changes_fills, record) < 0) {
        goto done;
    }
    if (own && c->own) {
        PyObject *event = PyObject_CallFunctionObjArgs(E.fill_event, account, record, NULL);
        if (event == NULL || PyList_Append(c->events, event) < 0) {
            Py_XDECREF(event);
            goto done;
        }
        Py_DECREF(event);
    }
    rc = 0;
done:
    Py_XDECREF(args[0]);
    Py_XDECREF(args[4]);
    Py_XDECREF(args[6]);
    Py_XDECREF(record);
    Py_XDECREF(fills);
    return rc;
}

/* One fill, computed before anything is written. */
typedef struct {
    PyObject *maker_account; /* borrowed from the ledger */
    PyObject *buyer, *seller;
    PyObject *buyer_quote, *buyer_base, *seller_base, *seller_quote; /* balance entries */
    PyObject *buyer_position, *seller_position;                     /* new references */
    long long notional, base_units, maker_fee, taker_fee, buyer_fee, seller_fee;
    long long buyer_quote_total, buyer_quote_locked, buyer_base_total, seller_base_total,
        seller_base_locked, seller_quote_total;
    long long maker_notional, taker_notional;
    i128 buyer_q, buyer_c, buyer_r, seller_q, seller_c, seller_r;
} FillPlan;

typedef struct {
    PyObject *taker_account, *taker_balances, *quote, *base, *index, *accounts;
    OrderObject *taker;
    long long notional_units, lot_units, maker_bps, taker_bps, lock_bps;
} SettleContext;

static int
entry_ll(PyObject *entry, Py_ssize_t i, long long *out)
{
    return get_ll(PyList_GET_ITEM(entry, i), out);
}

/* Plan one fill: FAST_OK (everything fits int64), FAST_FALLBACK, or -1. */
static int
plan_fill(SettleContext *x, OrderObject *maker, long long lots, long long price, FillPlan *p)
{
    OrderObject *taker = x->taker;
    int taker_buys = taker->side == BUY;
    p->maker_account = PyDict_GetItemWithError(x->accounts, maker->account);
    if (p->maker_account == NULL) {
        return PyErr_Occurred() ? -1 : FAST_FALLBACK;
    }
    if (p->maker_account == x->taker_account) {
        return FAST_FALLBACK; /* self-trades never fill; leave the impossible to Python */
    }
    i128 v, notional, maker_fee, taker_fee, unit, after, before, after_fee, before_fee;
    if (!mul128(price, lots, &v) || !mul128(v, x->notional_units, &notional) ||
        !fits64(notional) || !mul128(notional, x->maker_bps, &maker_fee) ||
        !mul128(notional, x->taker_bps, &taker_fee)) {
        return FAST_FALLBACK;
    }
    p->notional = (long long)notional;
    maker_fee = floordiv(maker_fee, 10000);
    taker_fee = floordiv(taker_fee, 10000);
    v = (i128)lots * x->lot_units;
    if (!fits64(v) || !fits64(maker_fee) || !fits64(taker_fee)) {
        return FAST_FALLBACK;
    }
    p->base_units = (long long)v;
    p->maker_fee = (long long)maker_fee;
    p->taker_fee = (long long)taker_fee;
    OrderObject *buyer_order;
    long long buyer_filled;
    if (taker_buys) {
        p->buyer = x->taker_account;
        p->seller = p->maker_account;
        buyer_order = taker;
        buyer_filled = taker->filled + lots; /* settlement counts the taker's lots first */
        p->buyer_fee = p->taker_fee;
        p->seller_fee = p->maker_fee;
    }
    else {
        p->buyer = p->maker_account;
        p->seller = x->taker_account;
        buyer_order = maker;
        buyer_filled = maker->filled;
        p->buyer_fee = p->maker_fee;
        p->seller_fee = p->taker_fee;
    }
    /* locks.buy_release_on_fill */
    if (!mul128(buyer_order->price, x->notional_units, &unit) ||
        !mul128((i128)buyer_order->quantity - buyer_filled, unit, &after) ||
        !mul128(lots, unit, &v) || __builtin_add_overflow(after, v, &before) ||
        !mul128(before, x->lock_bps, &before_fee) || !mul128(after, x->lock_bps, &after_fee)) {
        return FAST_FALLBACK;
    }
    i128 released = before + floordiv(before_fee, 10000) - after - floordiv(after_fee, 10000);
    PyObject *buyer_balances = PyObject_GetAttr(p->buyer, s_balances);
    PyObject *seller_balances =
        buyer_balances == NULL ? NULL : PyObject_GetAttr(p->seller, s_balances);
    if (seller_balances == NULL) {
        Py_XDECREF(buyer_balances);
        return -1;
    }
    /* Entries the fill needs (Python raises KeyError where one is missing: fall back). The
     * ones created here as [0, 0] are the ones the Python loop creates, in the same state. */
    p->buyer_quote = balance_entry(buyer_balances, x->quote);
    p->buyer_base = p->buyer_quote == NULL ? NULL : balance_entry_or_new(buyer_balances, x->base);
    p->seller_base = p->buyer_base == NULL ? NULL : balance_entry(seller_balances, x->base);
    p->seller_quote =
        p->seller_base == NULL ? NULL : balance_entry_or_new(seller_balances, x->quote);
    Py_DECREF(buyer_balances);
    Py_DECREF(seller_balances);
    if (p->seller_quote == NULL) {
        return PyErr_Occurred() ? -1 : FAST_FALLBACK;
    }
    long long seller_quote_locked, buyer_base_locked;
    int rc;
    if ((rc = entry_ll(p->buyer_quote, 0, &p->buyer_quote_total)) != FAST_OK ||
        (rc = entry_ll(p->buyer_quote, 1, &p->buyer_quote_locked)) != FAST_OK ||
        (rc = entry_ll(p->buyer_base, 0, &p->buyer_base_total)) != FAST_OK ||
        (rc = entry_ll(p->buyer_base, 1, &buyer_base_locked)) != FAST_OK ||
        (rc = entry_ll(p->seller_base, 0, &p->seller_base_total)) != FAST_OK ||
        (rc = entry_ll(p->seller_base, 1, &p->seller_base_locked)) != FAST_OK ||
        (rc = entry_ll(p->seller_quote, 0, &p->seller_quote_total)) != FAST_OK ||
        (rc = entry_ll(p->seller_quote, 1, &seller_quote_locked)) != FAST_OK ||
        (rc = get_ll(maker->filled_notional, &p->maker_notional)) != FAST_OK ||
        (rc = get_ll(taker->filled_notional, &p->taker_notional)) != FAST_OK) {
        return rc;
    }
    i128 checks[8] = {
        (i128)p->buyer_quote_total - notional - p->buyer_fee,
        (i128)p->buyer_quote_locked - released,
        (i128)p->buyer_base_total + p->base_units,
        (i128)p->seller_base_total - p->base_units,
        (i128)p->seller_base_locked - p->base_units,
        (i128)p->seller_quote_total + notional - p->seller_fee,
        (i128)p->maker_notional + notional,
        (i128)p->taker_notional + notional,
    };
    for (int i = 0; i < 8; i++) {
        if (!fits64(checks[i])) {
            return FAST_FALLBACK;
        }
    }
    p->buyer_quote_total = (long long)checks[0];
    p->buyer_quote_locked = (long long)checks[1];
    p->buyer_base_total = (long long)checks[2];
    p->seller_base_total = (long long)checks[3];
    p->seller_base_locked = (long long)checks[4];
    p->seller_quote_total = (long long)checks[5];
    p->maker_notional = (long long)checks[6];
    p->taker_notional = (long long)checks[7];
    if (taker->filled > LLONG_MAX - lots) {
        return FAST_FALLBACK;
    }
    p->buyer_position = position_of(p->buyer, x->index);
    if (p->buyer_position == NULL) {
        return -1;
    }
    p->seller_position = position_of(p->seller, x->index);
    if (p->seller_position == NULL) {
        return -1;
    }
    long long q, c, r;
    if ((rc = position_read(p->buyer_position, &q, &c, &r)) != FAST_OK) {
        return rc;
    }
    position_apply(&q, c, r, lots, p->notional, p->buyer_fee, &p->buyer_q, &p->buyer_c,
                   &p->buyer_r);
    if ((rc = position_read(p->seller_position, &q, &c, &r)) != FAST_OK) {
        return rc;
    }
    position_apply(&q, c, r, -lots, p->notional, p->seller_fee, &p->seller_q, &p->seller_c,
                   &p->seller_r);
    if (!fits64(p->buyer_q) || !fits64(p->buyer_c) || !fits64(p->buyer_r) ||
        !fits64(p->seller_q) || !fits64(p->seller_c) || !fits64(p->seller_r)) {
        return FAST_FALLBACK;
    }
    return FAST_OK;
}

static void
plan_clear(FillPlan *p)
{
    Py_CLEAR(p->buyer_position);
    Py_CLEAR(p->seller_position);
}

/* Settlement._settle_fills without events, for the fills from `start` on; `stop` is set to
 * the first fill left to the Python loop (len(fills) when none is). */
static int
settle_range(Command *c, SettleContext *x, PyObject *fills, long long now, PyObject *stats,
             Py_ssize_t *stop, i128 *fee_total)
{
    OrderObject *taker = x->taker;
    Py_ssize_t n = PyList_GET_SIZE(fills);
    long long trade_id;
    int rc = ex_get_ll(c->exd, s_next_trade_id, &trade_id);
    if (rc != FAST_OK) {
        *stop = 0;
        return rc < 0 ? -1 : 0;
    }
    int taker_is_user;
    {
        PyObject *kind = PyObject_GetAttr(x->taker_account, s_kind);
        if (kind == NULL) {
            return -1;
        }
        taker_is_user = kind == E.user;
        Py_DECREF(kind);
    }
    PyObject *buyer_name = NULL, *seller_name = NULL;
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        PyObject *fill = PyList_GET_ITEM(fills, i);
        if (!PyTuple_CheckExact(fill) || PyTuple_GET_SIZE(fill) != 3 ||
            !Order_Check(PyTuple_GET_ITEM(fill, 0))) {
            break;
        }
        OrderObject *maker = (OrderObject *)PyTuple_GET_ITEM(fill, 0);
        PyObject *lots_obj = PyTuple_GET_ITEM(fill, 1);
        PyObject *price_obj = PyTuple_GET_ITEM(fill, 2);
        long long lots, price;
        if ((rc = get_ll(lots_obj, &lots)) != FAST_OK ||
            (rc = get_ll(price_obj, &price)) != FAST_OK) {
            if (rc < 0) {
                return -1;
            }
            break;
        }
        FillPlan p;
        memset(&p, 0, sizeof(p));
        rc = plan_fill(x, maker, lots, price, &p);
        if (rc != FAST_OK) {
            plan_clear(&p);
            if (rc < 0) {
                return -1;
            }
            break;
        }
        /* From here on, this fill is written. */
        long long this_trade = trade_id++;
        *fee_total += (i128)p.buyer_fee + p.seller_fee;
        taker->filled += lots;
        list_set_ll(p.buyer_quote, 0, p.buyer_quote_total);
        list_set_ll(p.buyer_quote, 1, p.buyer_quote_locked);
        list_set_ll(p.buyer_base, 0, p.buyer_base_total);
        list_set_ll(p.seller_base, 0, p.seller_base_total);
        list_set_ll(p.seller_base, 1, p.seller_base_locked);
        list_set_ll(p.seller_quote, 0, p.seller_quote_total);
        if (PyErr_Occurred()) {
            plan_clear(&p);
            return -1;
        }
        Py_SETREF(maker->filled_notional, PyLong_FromLongLong(p.maker_notional));
        Py_SETREF(taker->filled_notional, PyLong_FromLongLong(p.taker_notional));
        if (maker->filled_notional == NULL || taker->filled_notional == NULL) {
            plan_clear(&p);
            return -1;
        }
        maker->updated = now;
        int failed = position_write(p.buyer_position, p.buyer_q, p.buyer_c, p.buyer_r) < 0 ||
                     position_write(p.seller_position, p.seller_q, p.seller_c, p.seller_r) < 0 ||
                     stats_record(stats, now, price_obj, lots_obj) < 0;
        if (!failed && taker_is_user) {
            failed = record_fill(c, x->taker_account, this_trade, taker, price_obj, lots_obj,
                                 p.taker_fee, s_taker, now, 1) < 0;
        }
        if (!failed) {
            PyObject *kind = PyObject_GetAttr(p.maker_account, s_kind);
            failed = kind == NULL;
            if (!failed && kind == E.user) {
                failed = record_fill(c, p.maker_account, this_trade, maker, price_obj,
                                     lots_obj, p.maker_fee, s_maker, now, 0) < 0;
            }
            Py_XDECREF(kind);
        }
        if (!failed && c->changes_balances != NULL) {
            buyer_name = PyObject_GetAttr(p.buyer, s_name);
            seller_name = buyer_name == NULL ? NULL : PyObject_GetAttr(p.seller, s_name);
            PyObject *trade = seller_name == NULL
                                  ? NULL
                                  : Py_BuildValue("(LOOOL)", this_trade, x->index, price_obj,
                                                  lots_obj, now);
            failed = trade == NULL ||
                     set_add_pair(c->changes_balances, buyer_name, x->quote) < 0 ||
                     set_add_pair(c->changes_balances, buyer_name, x->base) < 0 ||
                     set_add_pair(c->changes_balances, seller_name, x->quote) < 0 ||
                     set_add_pair(c->changes_balances, seller_name, x->base) < 0 ||
                     set_add_pair(c->changes_positions, buyer_name, x->index) < 0 ||
                     set_add_pair(c->changes_positions, seller_name, x->index) < 0 ||
                     dict_set_order(c->changes_orders, maker) < 0 ||
                     append_item(c->changes_trades, trade) < 0;
            Py_XDECREF(trade);
            Py_CLEAR(buyer_name);
            Py_CLEAR(seller_name);
        }
        if (!failed && c->events != NULL) {
            PyObject *event = PyObject_CallFunction(E.trade_event, "OLOOLL", taker->instrument,
                                                    this_trade, price_obj, lots_obj,
                                                    taker->side, now);
            failed = event == NULL || PyList_Append(c->events, event) < 0;
            Py_XDECREF(event);
        }
        if (!failed) {
            if (maker->filled == maker->quantity) {
                order_set_status(maker, E.filled);
                failed = attr_add(p.maker_account, s_open_orders, -1) < 0 ||
                         order_closed(c, p.maker_account, maker) < 0;
            }
            else {
                order_set_status(maker, E.partially_filled);
            }
        }
        plan_clear(&p);
        if (failed) {
            ex_set_ll(c->exd, s_next_trade_id, trade_id);
            return -1;
        }
    }
    *stop = i;
    return ex_set_ll(c->exd, s_next_trade_id, trade_id);
}

/* Settlement._settle without events (the caller checked): the whole fill loop. */
static int
settle_fills(Command *c, PyObject *taker_account, OrderObject *taker, PyObject *fills)
{
    int rc = -1;
    SettleContext x;
    memset(&x, 0, sizeof(x));
    x.taker_account = taker_account;
    x.taker = taker;
    PyObject *ledger = NULL, *fee_account = NULL, *fee_balances = NULL, *stats = NULL;
    PyObject *instrument = taker->instrument;
    PyObject *fee_entry = NULL;
    Py_ssize_t stop = 0;
    i128 fee_total = 0;
    long long now = 0;
    int fit;
    x.quote = PyObject_GetAttr(instrument, s_quote);
    x.base = x.quote == NULL ? NULL : PyObject_GetAttr(instrument, s_base);
    x.index = x.base == NULL ? NULL : PyObject_GetAttr(instrument, s_index);
    ledger = x.index == NULL ? NULL : ex_get(c->exd, s_ledger);
    x.accounts = ledger == NULL ? NULL : PyObject_GetAttr(ledger, s_accounts);
    fee_account = x.accounts == NULL ? NULL : PyObject_GetAttr(ledger, s_fees);
    fee_balances = fee_account == NULL ? NULL : PyObject_GetAttr(fee_account, s_balances);
    if (fee_balances == NULL || !PyList_CheckExact(fills)) {
        goto done;
    }
    /* fee_balance = ledger.fees.balance(quote), before the loop as in Python */
    fee_entry = balance_entry_or_new(fee_balances, x.quote);
    if (fee_entry == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a balance must be a [total, locked] list");
        }
        goto done;
    }
    Py_INCREF(fee_entry);
    {
        PyObject *all_stats = ex_get(c->exd, s_stats);
        stats = all_stats == NULL ? NULL : PyObject_GetItem(all_stats, x.index);
        if (stats == NULL) {
            goto done;
        }
    }
    fit = ex_get_ll(c->exd, s__now, &now);
    if (fit == FAST_OK) {
        fit = attr_ll(instrument, s_notional_units, &x.notional_units);
    }
    if (fit == FAST_OK) {
        fit = attr_ll(instrument, s_lot_units, &x.lot_units);
    }
    if (fit == FAST_OK) {
        fit = ex_get_ll(c->exd, s__maker_bps, &x.maker_bps);
    }
    if (fit == FAST_OK) {
        fit = ex_get_ll(c->exd, s__taker_bps, &x.taker_bps);
    }
    x.lock_bps = c->lock_bps;
    if (fit < 0) {
        goto done;
    }
    if (fit == FAST_OK && PyDict_CheckExact(x.accounts)) {
        int same = PyObject_RichCompareBool(x.quote, x.base, Py_EQ);
        if (same < 0) {
            goto done;
        }
        if (!same && settle_range(c, &x, fills, now, stats, &stop, &fee_total) < 0) {
            goto done;
        }
    }
    if (stop > 0 || PyList_GET_SIZE(fills) == 0) { /* after the loop: taker.updated, the fee account's total, its change */
        taker->updated = now;
        if (list_add(fee_entry, 0, fee_total) < 0 ||
            (c->changes_balances != NULL &&
             set_add_pair(c->changes_balances, E.fee_account, x.quote) < 0)) {
            goto done;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(fills);
    if (stop < n) { /* the rest in the Python loop, which ends the settlement the same way */
        PyObject *rest = PyList_GetSlice(fills, stop, n);
        PyObject *r = rest == NULL ? NULL
                                   : PyObject_CallMethodObjArgs(c->exchange, s__settle_fills,
                                                                taker_account, taker, rest, NULL);
        Py_XDECREF(rest);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    rc = 0;
done:
    Py_XDECREF(x.quote);
    Py_XDECREF(x.base);
    Py_XDECREF(x.index);
    Py_XDECREF(x.accounts);
    Py_XDECREF(fee_account);
    Py_XDECREF(fee_balances);
    Py_XDECREF(stats);
    Py_XDECREF(fee_entry);
    return rc;
}

/* The side's best price, or 0 with `*found` false. */
static long long
best_price(BookObject *book, int side, int *found)
{
    Side *s = &book->sides[side];
    *found = s->len != 0;
    return *found ? s->items[s->len - 1]->price : 0;
}

/* risk.check on int64 numbers: FAST_OK if the order breaks no limit, FAST_FALLBACK if it
 * breaks one (the Python check raises the error) or a number is beyond int64, or -1. */
static int
risk_passes(Command *c, PyObject *risk, BookObject *book, int buy, PyObject *price,
            long long ticks, long long lots, long long notional_units, int may_rest,
            PyObject *account, PyObject **recent_out, long long *now_out)
{
    PyObject *limits = PyObject_GetAttr(risk, s_limits);
    if (limits == NULL) {
        return -1;
    }
    PyObject *names[4] = {s_price_band_bps, s_max_order_notional, s_max_open_orders,
                          s_max_orders_per_second};
    long long values[4];
    int set[4];
    int rc = FAST_OK;
    for (int i = 0; i < 4 && rc == FAST_OK; i++) {
        PyObject *value = PyObject_GetAttr(limits, names[i]);
        if (value == NULL) {
            rc = -1;
            break;
        }
        set[i] = value != Py_None;
        if (set[i]) {
            rc = get_ll(value, &values[i]);
        }
        Py_DECREF(value);
    }
    Py_DECREF(limits);
    if (rc != FAST_OK) {
        return rc;
    }
    int has_bid, has_ask;
    long long bid = best_price(book, 0, &has_bid), ask = best_price(book, 1, &has_ask);
    i128 left, right, v;
    if (set[0] && price != Py_None && has_bid && has_ask) {
        i128 mid_x2 = (i128)bid + ask;
        i128 factor = buy ? (i128)10000 + values[0] : (i128)10000 - values[0];
        if (!mul128(ticks, 20000, &left) || !mul128(mid_x2, factor, &right)) {
            return FAST_FALLBACK;
        }
        if (buy ? left > right : left < right) {
            return FAST_FALLBACK;
        }
    }
    if (set[1]) {
        int has_reference = price != Py_None || (buy ? has_ask : has_bid);
        long long reference = price != Py_None ? ticks : (buy ? ask : bid);
        if (has_reference) {
            if (!mul128(reference, lots, &v) || !mul128(v, notional_units, &v) ||
                v > values[1]) {
                return FAST_FALLBACK;
            }
        }
    }
    if (set[2] && may_rest) {
        long long open_orders;
        rc = attr_ll(account, s_open_orders, &open_orders);
        if (rc != FAST_OK) {
            return rc;
        }
        if (open_orders >= values[2]) {
            return FAST_FALLBACK;
        }
    }
    if (set[3]) {
        if (command_micros(c, now_out) < 0) {
            return -1;
        }
        PyObject *recent = PyObject_GetAttr(risk, s_recent);
        if (recent == NULL) {
            return -1;
        }
        PyObject *horizon = pylong_from_i128((i128)*now_out - 1000000);
        rc = horizon == NULL ? -1 : FAST_OK;
        while (rc == FAST_OK) {
            Py_ssize_t size = PyObject_Length(recent);
            if (size <= 0) {
                rc = size < 0 ? -1 : FAST_OK;
                break;
            }
            PyObject *first = PySequence_GetItem(recent, 0);
            int old = first == NULL ? -1 : PyObject_RichCompareBool(first, horizon, Py_LE);
            Py_XDECREF(first);
            if (old <= 0) {
                rc = old;
                break;
            }
            PyObject *gone = PyObject_CallMethodNoArgs(recent, s_popleft);
            rc = gone == NULL ? -1 : FAST_OK;
            Py_XDECREF(gone);
        }
        Py_XDECREF(horizon);
        Py_ssize_t size = rc == FAST_OK ? PyObject_Length(recent) : -1;
        if (size < 0) {
            Py_DECREF(recent);
            return -1;
        }
        if (size >= values[3]) {
            Py_DECREF(recent);
            return FAST_FALLBACK;
        }
        *recent_out = recent;
    }
    return FAST_OK;
}

/* protection.market_bound: FAST_FALLBACK when there is no opposite side (the order is
 * rejected in Python) or the bound is beyond int64. */
static int
market_bound(Command *c, BookObject *book, int buy, long long *out)
{
    int found;
    long long best = best_price(book, buy ? 1 : 0, &found);
    if (!found) {
        return FAST_FALLBACK;
    }
    PyObject *config = ex_get(c->exd, s_config);
    long long bps;
    int rc = config == NULL ? -1 : attr_ll(config, s_market_protection_bps, &bps);
    if (rc != FAST_OK) {
        return rc;
    }
    i128 v;
    if (!mul128(best, buy ? (i128)10000 + bps : (i128)10000 - bps, &v)) {
        return FAST_FALLBACK;
    }
    v = buy ? -floordiv(-v, 10000) : floordiv(v, 10000);
    if (!buy && v < 1) {
        v = 1;
    }
    if (!fits64(v)) {
        return FAST_FALLBACK;
    }
    *out = (long long)v;
    return FAST_OK;
}

static PyObject *
engine_not_configured(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the engine path is not configured: import "
                                        "velocimex_cli.engine.core.native_path");
    return NULL;
}

/* Matching._execute after the checks, from the lock on: the command cannot fail from here. */
static int
place_execute(Command *c, PyObject *account, OrderObject *order, BookObject *book,
              PyObject *index, PyObject *balance, i128 required, PyObject *asset)
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
    if (command_touch(c, index) < 0 || list_add(balance, 1, required) < 0) {
        goto done;
    }
    name = PyObject_GetAttr(account, s_name);
    if (name == NULL ||
        (c->changes_balances != NULL && set_add_pair(c->changes_balances, name, asset) < 0) ||
        emit_order(c, order, s_accepted) < 0) {
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
    if (PyList_GET_SIZE(self_trades) != 0) { /* self_trade.cancel_makers */
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
                         emit_order(c, maker, s_canceled_event) < 0;
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
        if (order_closed(c, account, order) < 0 || emit_order(c, order, s_filled_event) < 0) {
            goto done;
        }
    }
    else if (order->tif == E.gtc) {
        if (book_rest_order(book, order) < 0 || attr_add(account, s_open_orders, 1) < 0) {
            goto done;
        }
        if (order->filled) {
            order_set_status(order, E.partially_filled);
            if (emit_order(c, order, s_partially_filled_event) < 0) {
                goto done;
            }
        }
    }
    else {
        if (order->filled && emit_order(c, order, s_partially_filled_event) < 0) {
            goto done;
        }
        PyObject *reason = E.ioc_remainder;
        if (order->type == E.market) {
            best_price(book, order->side == BUY ? 1 : 0, &found);
            reason = found ? E.market_protection : E.no_liquidity;
        }
        if (order_release(c, account, order, reason, E.canceled) < 0 ||
            emit_order(c, order, s_canceled_event) < 0) {
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

/* FAST_FALLBACK when `client_id` names a live order of `account` (OrderEntry._check then
 * returns that order), FAST_OK when it does not, or -1. */
static int
client_id_is_live(PyObject *account, PyObject *client_id)
{
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

/* place(exchange, account, instrument, side, lots, price, tif, client_id) -> Order, or None:
 * run the Python path (see the top of this section). The caller passes no post-only. */
static PyObject *
engine_place(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs("place", nargs, 8) < 0) {
        return NULL;
    }
    if (E.user == NULL) {
        return engine_not_configured();
    }
    PyObject *exchange = args[0], *account = args[1], *instrument = args[2];
    PyObject *price = args[5], *tif = args[6], *client_id = args[7];
    PyObject *index = NULL, *book_obj = NULL, *asset = NULL, *balances = NULL, *risk = NULL;
    PyObject *recent = NULL, *name = NULL, *result = NULL;
    OrderObject *order = NULL;
    Command c;
    memset(&c, 0, sizeof(c));
    long long side, lots, ticks, notional_units, lot_units, order_id, risk_now = 0;
    name = PyObject_GetAttr(account, s_name);
    int rc = name == NULL ? -1 : command_open(&c, exchange, name);
    if (rc != FAST_OK) {
        goto out;
    }
    if ((rc = get_ll(args[3], &side)) != FAST_OK || (rc = get_ll(args[4], &lots)) != FAST_OK) {
        goto out;
    }
    if (client_id != Py_None) { /* a replay of a live order: the Python path returns it */
        rc = client_id_is_live(account, client_id);
        if (rc != FAST_OK) {
            goto out;
        }
    }
    PyObject *always_open = ex_get(c.exd, s__always_open);
    int open = always_open == NULL ? -1 : PyObject_IsTrue(always_open);
    if (open < 0) {
        rc = -1;
        goto out;
    }
    if (!open) {
        PyObject *venue = PyObject_GetAttr(instrument, s_venue);
        PyObject *kind = venue == NULL ? NULL : PyObject_GetAttr(venue, s_kind);
        Py_XDECREF(venue);
        if (kind == NULL) {
            rc = -1;
            goto out;
        }
        Py_DECREF(kind);
        if (kind != E.crypto) {
            rc = FAST_FALLBACK; /* session hours */
            goto out;
        }
    }
    PyObject *type = price == Py_None ? E.market : E.limit;
    if (type == E.market && tif == E.gtc) {
        tif = E.ioc;
    }
    if (tif != E.gtc && tif != E.ioc) {
        rc = FAST_FALLBACK;
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
    if (!Py_IS_TYPE(book_obj, &BookType)) {
        rc = FAST_FALLBACK;
        goto out;
    }
    BookObject *book = (BookObject *)book_obj;
    rc = price == Py_None ? market_bound(&c, book, buy, &ticks) : get_ll(price, &ticks);
    if (rc != FAST_OK || (rc = attr_ll(instrument, s_notional_units, &notional_units)) ||
        (rc = attr_ll(instrument, s_lot_units, &lot_units)) ||
        (rc = ex_get_ll(c.exd, s_next_order_id, &order_id))) {
        goto out;
    }
    i128 required, available = 0;
    if (!lock_for_lots(side, ticks, lots, notional_units, lot_units, c.lock_bps, &required)) {
        rc = FAST_FALLBACK;
        goto out;
    }
    asset = PyObject_GetAttr(instrument, buy ? s_quote : s_base);
    balances = asset == NULL ? NULL : PyObject_GetAttr(account, s_balances);
    if (balances == NULL) {
        rc = -1;
        goto out;
    }
    PyObject *balance = balance_entry(balances, asset);
    if (balance == NULL) { /* no balance of the asset: Python refuses (or errs) */
        rc = PyErr_Occurred() ? -1 : FAST_FALLBACK;
        goto out;
    }
    long long total, locked;
    if ((rc = entry_ll(balance, 0, &total)) || (rc = entry_ll(balance, 1, &locked))) {
        goto out;
    }
    available = (i128)total - locked;
    if (required > available || !fits64((i128)locked + required)) {
        rc = FAST_FALLBACK; /* InsufficientBalance */
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
    if (c.interested != NULL) { /* a listener wants a maker's events: the Python path */
        int wanted = book_meets_maker_of(book, side, name, ticks, lots, c.interested);
        if (wanted != 0) {
            rc = wanted < 0 ? -1 : FAST_FALLBACK;
            goto out;
        }
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

/* cancel(exchange, account, order) -> True, or False: run the Python path (a listener wants
 * book events). */
static PyObject *
engine_cancel(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
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
    int rc = Order_Check(args[2])
                 ? command_open(&c, args[0], ((OrderObject *)args[2])->account)
                 : FAST_FALLBACK;
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
    if (!Py_IS_TYPE(book, &BookType)) {
        rc = FAST_FALLBACK;
        goto out;
    }
    long long now;
    rc = -1;
    if (command_begin(&c, &now) < 0 || command_touch(&c, index) < 0 ||
        (order->level != NULL && book_remove_order((BookObject *)book, order) < 0) ||
        attr_add(account, s_open_orders, -1) < 0 ||
        order_release(&c, account, order, E.canceled_by_user, E.canceled) < 0 ||
        emit_order(&c, order, s_canceled_event) < 0 || command_finish(&c) < 0) {
        goto out;
    }
    rc = FAST_OK;
    result = Py_NewRef(Py_True);
out:
    if (rc == FAST_FALLBACK) {
        result = Py_NewRef(Py_False);
    }
    Py_XDECREF(index);
    Py_XDECREF(book);
    command_clear(&c);
    return result;
}

/* settle(exchange, taker_account, taker, fills): Settlement._settle. */
static PyObject *
engine_settle(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs("settle", nargs, 4) < 0) {
        return NULL;
    }
    if (E.user == NULL) {
        return engine_not_configured();
    }
    Command c;
    int rc = command_open(&c, args[0], NULL);
    if (rc == FAST_OK && !Order_Check(args[2])) {
        rc = FAST_FALLBACK;
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

static PyObject *
engine_configure(PyObject *module, PyObject *args, PyObject *kwargs)
{
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

/* ------------------------------------------------------------------------------ mirrored liquidity
 *
 * - mirror_book(exchange, account, instrument, book, quote_balance, base_balance, bids, asks,
 *   start, now): liquidity.Liquidity.set_level (the reference) for (bids + asks)[start:],
 *   sequences of (price, lots), in one call: the account's resting quantity at each price made
 *   equal to `lots`, its newest orders going first as a level shrinks (the newest that keeps
 *   some shrinks in place), its last order growing as a level grows when nothing rests behind
 *   it, else a new order joining the back. Locks follow exactly (the balances are the
 *   account's [total, locked] of each asset). The account's orders at a level are read from
 *   the level's own FIFO. Returns the index of the first level it hands back to the Python
 *   path, with nothing of that level changed (a new order that would cross the book, a lock
 *   the balance cannot take, a number beyond 64 bits); or, when all are done, their count,
 *   having published the book (Liquidity.publish). The caller has checked that nobody needs
 *   these changes as events.
 */

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
    long long lock_bps;
    long long now;
} Mirror;

static int
mirror_lock(Mirror *m, long long price, long long lots, i128 *out)
{
    return lock_for_lots(m->side, price, lots, m->unit, m->unit, m->lock_bps, out);
}

/* The account's order resting before `order` in its level (NULL: none). */
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

/* Liquidity.remove: out of the book, its lock (`lock`) released, canceled. */
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

/* Liquidity.resize once its checks passed: `remaining` lots in place, the lock by `units`. */
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

/* The level holds `held` > `lots` of the account's: its newest orders go, the next shrinks. */
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

/* Liquidity.add when the order does not cross: a new order of `lots` at the back. */
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

/* The level holds `held` < `lots` of the account's: its newest order grows if it is the
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

/* Liquidity.set_level: FAST_OK, FAST_FALLBACK (nothing changed) or -1. */
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

/* The levels in[start:] of one side: the index of the first handed back, or -1 (an error). */
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

static PyObject *
mirror_book(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
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
        rc = ex_get_ll(m.exd, s__lock_bps, &m.lock_bps);
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

/* ------------------------------------------------------------------------------ recorded events
 *
 * - recording_events(readline, limit, max_t, decode, types, exchange, symbol, origin, ticks,
 *   lots, events, state): backtest/recording.py read_recording's typed path (the reference)
 *   for the lines `readline(limit)` reads (a binary file's readline: bytes, b"" at the end) in
 *   one call. Each line is decoded with `decode` into a market_messages.Entry; `types` is
 *   (BookDelta, BookSnapshot, Trade, Ticker). A book or trade message of (exchange, symbol)
 *   becomes its event, appended to `events`, its numbers read from the `ticks` and `lots`
 *   caches (dicts: number -> steps). `state` is the list [line, last t, first trade price, last
 *   trade price], read at the start and written back at every return, errors included (the
 *   line then is the last one read). Returns None at the end of the file, or the first line
 *   (bytes) it hands back to the Python path, with nothing of it done and `state[0]` its
 *   number: a line of `limit` bytes or more (maybe longer than a line may be), one with a byte
 *   beyond ASCII (the Python path checks its UTF-8), one the decoder refuses, a time going
 *   backwards or beyond `max_t`, a number not in its cache yet (or not hashable).
 *
 * The events' tuples hold only ints, bools, None and such tuples, so they can take no part in
 * a reference cycle: they are untracked by the cyclic GC at once (what its first collection
 * would do after walking them all).
 */

static PyObject *r_t, *r_msg, *r_exchange, *r_symbol, *r_changes, *r_side, *r_price,
    *r_quantity, *r_bids, *r_asks, *r_bid, *r_buy;

static int
recording_names(void)
{
    if (r_buy != NULL) {
        return 0;
    }
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&r_t, "t"},           {&r_msg, "msg"},     {&r_exchange, "exchange"},
        {&r_symbol, "symbol"}, {&r_changes, "changes"}, {&r_side, "side"},
        {&r_price, "price"},   {&r_quantity, "quantity"}, {&r_bids, "bids"},
        {&r_asks, "asks"},     {&r_bid, "bid"},     {&r_buy, "buy"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*names[i].slot == NULL) {
            *names[i].slot = PyUnicode_InternFromString(names[i].text);
            if (*names[i].slot == NULL) {
                return -1;
            }
        }
    }
    return 0;
}

#define R_HAND_BACK 1

/* A tuple of the given items (stolen), untracked; NULL on an error. */
static PyObject *
recording_tuple(Py_ssize_t n, PyObject **items)
{
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_DECREF(items[i]);
        }
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(tuple, i, items[i]);
    }
    if (n > 0) {
        PyObject_GC_UnTrack(tuple);
    }
    return tuple;
}

/* The cached steps of `number` (a new reference) in *out: 0, R_HAND_BACK (not cached, not
 * hashable), -1 (an error). */
static int
recording_steps(PyObject *cache, PyObject *number, PyObject **out)
{
    PyObject *steps = PyDict_GetItemWithError(cache, number);
    if (steps == NULL) {
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();
        }
        return R_HAND_BACK;
    }
    *out = Py_NewRef(steps);
    return 0;
}

/* A level's (ticks, lots) from a Level or Change struct in *out. */
static int
recording_level(PyObject *level, PyObject *ticks, PyObject *lots, PyObject **out)
{
    PyObject *price = PyObject_GetAttr(level, r_price);
    if (price == NULL) {
        return -1;
    }
    PyObject *pair[2] = {NULL, NULL};
    int rc = recording_steps(ticks, price, &pair[0]);
    Py_DECREF(price);
    if (rc != 0) {
        return rc;
    }
    PyObject *quantity = PyObject_GetAttr(level, r_quantity);
    if (quantity == NULL) {
        Py_DECREF(pair[0]);
        return -1;
    }
    rc = recording_steps(lots, quantity, &pair[1]);
    Py_DECREF(quantity);
    if (rc != 0) {
        Py_DECREF(pair[0]);
        return rc;
    }
    *out = recording_tuple(2, pair);
    return *out == NULL ? -1 : 0;
}

/* A snapshot's side: the levels of the list `levels` as a tuple of (ticks, lots). */
static int
recording_side(PyObject *levels, PyObject *ticks, PyObject *lots, PyObject **out)
{
    if (!PyList_Check(levels)) {
        return R_HAND_BACK;
    }
    Py_ssize_t n = PyList_GET_SIZE(levels);
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair;
        int rc = recording_level(PyList_GET_ITEM(levels, i), ticks, lots, &pair);
        if (rc != 0) {
            Py_DECREF(tuple);
            return rc;
        }
        PyTuple_SET_ITEM(tuple, i, pair);
    }
    if (n > 0) {
        PyObject_GC_UnTrack(tuple);
    }
    *out = tuple;
    return 0;
}

/* A delta's changes split into (bids, asks) tuples. */
static int
recording_changes(PyObject *changes, PyObject *ticks, PyObject *lots, PyObject **out)
{
    if (!PyList_Check(changes)) {
        return R_HAND_BACK;
    }
    Py_ssize_t n = PyList_GET_SIZE(changes), counts[2] = {0, 0};
    PyObject *stack[2][8], **sides[2] = {stack[0], stack[1]};
    if (n > 8) {
        sides[0] = PyMem_Malloc(sizeof(PyObject *) * n * 2);
        if (sides[0] == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        sides[1] = sides[0] + n;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        PyObject *change = PyList_GET_ITEM(changes, i);
        PyObject *side = PyObject_GetAttr(change, r_side);
        if (side == NULL) {
            rc = -1;
            break;
        }
        int bid = PyObject_RichCompareBool(side, r_bid, Py_EQ);
        Py_DECREF(side);
        if (bid < 0) {
            rc = -1;
            break;
        }
        PyObject *pair;
        rc = recording_level(change, ticks, lots, &pair);
        if (rc == 0) {
            int at = bid ? 0 : 1;
            sides[at][counts[at]++] = pair;
        }
    }
    if (rc == 0) {
        out[0] = recording_tuple(counts[0], sides[0]);
        out[1] = recording_tuple(counts[1], sides[1]);
        if (out[0] == NULL || out[1] == NULL) {
            Py_XDECREF(out[0]);
            Py_XDECREF(out[1]);
            rc = -1;
        }
    }
    else {
        for (int s = 0; s < 2; s++) {
            for (Py_ssize_t i = 0; i < counts[s]; i++) {
                Py_DECREF(sides[s][i]);
            }
        }
    }
    if (sides[0] != stack[0]) {
        PyMem_Free(sides[0]);
    }
    return rc;
}

/* One decoded entry's event (or NULL in *out: nothing to replay) and its time. */
static int
recording_event(PyObject *entry, PyObject *const *args, long long origin, long long last_t,
                long long max_t, long long *t, PyObject **out, PyObject **price)
{
    PyObject *value = PyObject_GetAttr(entry, r_t);
    if (value == NULL) {
        return -1;
    }
    int overflow;
    *t = PyLong_AsLongLongAndOverflow(value, &overflow);
    Py_DECREF(value);
    if (*t == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || *t < last_t || *t > max_t) {
        return R_HAND_BACK;
    }
    PyObject *msg = PyObject_GetAttr(entry, r_msg);
    if (msg == NULL) {
        return -1;
    }
    PyObject *types = args[2], *type = (PyObject *)Py_TYPE(msg);
    int kind = 0;
    while (kind < 4 && PyTuple_GET_ITEM(types, kind) != type) {
        kind++;
    }
    int rc = 0;
    *out = NULL;
    if (kind >= 3) { /* a ticker (or a type it does not know: the Python path says) */
        Py_DECREF(msg);
        return kind == 3 ? 0 : R_HAND_BACK;
    }
    for (int i = 0; i < 2 && rc == 0; i++) {
        PyObject *field = PyObject_GetAttr(msg, i == 0 ? r_exchange : r_symbol);
        if (field == NULL) {
            rc = -1;
            break;
        }
        int same = PyObject_RichCompareBool(field, args[3 + i], Py_EQ);
        Py_DECREF(field);
        if (same <= 0) {
            Py_DECREF(msg);
            return same;
        }
    }
    if (rc < 0) {
        Py_DECREF(msg);
        return -1;
    }
    PyObject *items[5] = {NULL, NULL, NULL, NULL, NULL};
    long long stamp;
    if (__builtin_add_overflow(origin, *t / 1000, &stamp)) {
        Py_DECREF(msg);
        return R_HAND_BACK;
    }
    if (kind == 2) { /* a trade */
        PyObject *side = PyObject_GetAttr(msg, r_side);
        PyObject *number = side == NULL ? NULL : PyObject_GetAttr(msg, r_price);
        int buy = number == NULL ? -1 : PyObject_RichCompareBool(side, r_buy, Py_EQ);
        Py_XDECREF(side);
        rc = buy < 0 ? -1 : recording_steps(args[6], number, &items[3]);
        if (rc == 0) {
            PyObject *quantity = PyObject_GetAttr(msg, r_quantity);
            rc = quantity == NULL ? -1 : recording_steps(args[7], quantity, &items[4]);
            Py_XDECREF(quantity);
            if (rc != 0) {
                Py_CLEAR(items[3]);
            }
        }
        if (rc == 0) {
            items[1] = PyLong_FromLong(0); /* TRADE */
            items[2] = PyLong_FromLong(buy ? 0 : 1); /* BUY or SELL */
            *price = number;
        }
        else {
            Py_XDECREF(number);
        }
    }
    else {
        items[1] = PyLong_FromLong(1); /* BOOK */
        items[2] = Py_NewRef(kind == 1 ? Py_True : Py_False);
        if (kind == 0) {
            PyObject *changes = PyObject_GetAttr(msg, r_changes);
            rc = changes == NULL ? -1 : recording_changes(changes, args[6], args[7], &items[3]);
            Py_XDECREF(changes);
        }
        else {
            for (int i = 0; i < 2 && rc == 0; i++) {
                PyObject *levels = PyObject_GetAttr(msg, i == 0 ? r_bids : r_asks);
                rc = levels == NULL ? -1
                                    : recording_side(levels, args[6], args[7], &items[3 + i]);
                Py_XDECREF(levels);
            }
            if (rc != 0) {
                Py_CLEAR(items[3]);
            }
        }
    }
    Py_DECREF(msg);
    if (rc != 0) {
        Py_XDECREF(items[1]);
        Py_XDECREF(items[2]);
        return rc;
    }
    items[0] = PyLong_FromLongLong(stamp);
    if (items[0] == NULL) {
        for (int i = 1; i < 5; i++) {
            Py_DECREF(items[i]);
        }
        Py_CLEAR(*price);
        return -1;
    }
    *out = recording_tuple(5, items);
    if (*out == NULL) {
        Py_CLEAR(*price);
        return -1;
    }
    return 0;
}

/* Whether the n bytes at p are all ASCII (a word at a time). */
static int
recording_ascii(const char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    unsigned long long any = 0;
    for (; i + 8 <= n; i += 8) {
        unsigned long long word;
        memcpy(&word, p + i, 8);
        any |= word;
    }
    for (; i < n; i++) {
        any |= (unsigned char)p[i];
    }
    return (any & 0x8080808080808080ULL) == 0;
}

static PyObject *
recording_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs("recording_events", nargs, 12) < 0 || recording_names() < 0) {
        return NULL;
    }
    /* The arguments from decode on sit at rest[1..9], where recording_event reads them. */
    PyObject *const *rest = args + 2;
    PyObject *readline = args[0], *limit = args[1], *decode = rest[1], *events = rest[8],
             *state = rest[9];
    long long origin, line, last_t, max_t, most;
    if (!PyTuple_Check(rest[2]) || PyTuple_GET_SIZE(rest[2]) != 4 || !PyDict_Check(rest[6]) ||
        !PyDict_Check(rest[7]) || !PyList_Check(events) || !PyList_Check(state) ||
        PyList_GET_SIZE(state) != 4) {
        PyErr_SetString(PyExc_TypeError, "recording_events: arguments of the wrong types");
        return NULL;
    }
    if (arg_int64(limit, &most, "limit") < 0 || arg_int64(args[2], &max_t, "max_t") < 0 ||
        arg_int64(rest[5], &origin, "origin") < 0 ||
        arg_int64(PyList_GET_ITEM(state, 0), &line, "line") < 0 ||
        arg_int64(PyList_GET_ITEM(state, 1), &last_t, "t") < 0) {
        return NULL;
    }
    PyObject *result = NULL, *price = NULL;
    for (;;) {
        PyObject *text = PyObject_Vectorcall(readline, &limit, 1, NULL);
        if (text == NULL) {
            break;
        }
        if (!PyBytes_Check(text)) {
            Py_DECREF(text);
            PyErr_SetString(PyExc_TypeError, "recording_events: readline must give bytes");
            break;
        }
        Py_ssize_t size = PyBytes_GET_SIZE(text);
        if (size == 0) {
            Py_DECREF(text);
            result = Py_NewRef(Py_None);
            break;
        }
        line++;
        if (size >= most || !recording_ascii(PyBytes_AS_STRING(text), size)) {
            result = text; /* handed back: the Python path checks its length and its UTF-8 */
            break;
        }
        PyObject *entry = PyObject_Vectorcall(decode, &text, 1, NULL);
        if (entry == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_Exception)) {
                Py_DECREF(text);
                break;
            }
            PyErr_Clear();
            result = text; /* handed back */
            break;
        }
        long long t;
        PyObject *event = NULL;
        int rc = recording_event(entry, rest, origin, last_t, max_t, &t, &event, &price);
        Py_DECREF(entry);
        if (rc == 0 && event != NULL) {
            rc = PyList_Append(events, event);
            Py_DECREF(event);
        }
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear(); /* the Python path does this line again and says what is wrong */
            rc = R_HAND_BACK;
        }
        if (rc != 0) {
            Py_CLEAR(price);
            if (rc == R_HAND_BACK) {
                result = text;
            }
            else {
                Py_DECREF(text);
            }
            break;
        }
        Py_DECREF(text);
        last_t = t;
        if (price != NULL) {
            if (PyList_GET_ITEM(state, 2) == Py_None) {
                PyList_SetItem(state, 2, Py_NewRef(price));
            }
            PyList_SetItem(state, 3, price); /* steals it */
            price = NULL;
        }
    }
    PyObject *numbers[2] = {PyLong_FromLongLong(line), PyLong_FromLongLong(last_t)};
    for (int i = 0; i < 2; i++) {
        if (numbers[i] == NULL) {
            Py_XDECREF(numbers[1 - i]);
            Py_CLEAR(result);
            return NULL;
        }
    }
    PyList_SetItem(state, 0, numbers[0]);
    PyList_SetItem(state, 1, numbers[1]);
    return result;
}

/* ------------------------------------------------------------------------------ module */

static PyObject *
native_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs("_configure", nargs, 3) < 0) {
        return NULL;
    }
    Py_XSETREF(status_open, Py_NewRef(args[0]));
    Py_XSETREF(status_partially_filled, Py_NewRef(args[1]));
    Py_XSETREF(side_names, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef native_methods[] = {
    {"_configure", (PyCFunction)(void (*)(void))native_configure, METH_FASTCALL,
     "_configure(OPEN, PARTIALLY_FILLED, SIDE_NAMES): the enum members and names orders use"},
    {"_configure_engine", (PyCFunction)(void (*)(void))engine_configure,
     METH_VARARGS | METH_KEYWORDS,
     "_configure_engine(**constants): the enum members, classes and names the engine path uses"},
    {"place", (PyCFunction)(void (*)(void))engine_place, METH_FASTCALL,
     "place(exchange, account, instrument, side, lots, price, tif) -> Order, or None: not "
     "handled here"},
    {"cancel", (PyCFunction)(void (*)(void))engine_cancel, METH_FASTCALL,
     "cancel(exchange, account, order) -> True, or False: not handled here"},
    {"settle", (PyCFunction)(void (*)(void))engine_settle, METH_FASTCALL,
     "settle(exchange, taker_account, taker, fills): settle a match's fills"},
    {"mirror_book", (PyCFunction)(void (*)(void))mirror_book, METH_FASTCALL,
     "mirror_book(exchange, account, instrument, book, quote_balance, base_balance, bids, "
     "asks, start, now) -> index into bids + asks of the first level handed back to "
     "Liquidity.set_level (len(bids) + len(asks): none, and the book published)"},
    {"recording_events", (PyCFunction)(void (*)(void))recording_events, METH_FASTCALL,
     "recording_events(readline, limit, max_t, decode, types, exchange, symbol, origin, ticks, "
     "lots, events, state) -> None (end of file), or the first line handed back to the Python "
     "path"},
    {NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "velocimex_cli.engine.core._native",
    .m_doc = "Order and OrderBook in C (the pure-Python ones in orders.py/book.py are the "
             "reference).",
    .m_size = -1,
    .m_methods = native_methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (PyType_Ready(&OrderType) < 0 || PyType_Ready(&BookType) < 0 ||
        PyType_Ready(&FillRecordType) < 0 ||
        intern_engine_names() < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Order", (PyObject *)&OrderType) < 0 ||
        PyModule_AddObjectRef(module, "OrderBook", (PyObject *)&BookType) < 0 ||
        PyModule_AddObjectRef(module, "FillRecord", (PyObject *)&FillRecordType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
