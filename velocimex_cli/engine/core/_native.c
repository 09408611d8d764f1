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

static PyObject *
book_rest(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL) {
        return NULL;
    }
    if (order->level != NULL) {
        PyErr_Format(PyExc_ValueError, "order %lld is already resting", order->id);
        return NULL;
    }
    int side = order->side == BUY ? 0 : 1;
    long long price = order->price;
    long long remaining = order->quantity - order->filled;
    Level *level = side_find(&self->sides[side], side, price);
    if (level != NULL && ((remaining > 0 && level->quantity > LLONG_MAX - remaining) ||
                          (remaining < 0 && level->quantity < LLONG_MIN - remaining))) {
        PyErr_SetString(PyExc_OverflowError, "level quantity exceeds a 64-bit integer");
        return NULL;
    }
    if (level == NULL) {
        level = side_insert(self, side, price);
        if (level == NULL) {
            return NULL;
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
    if (book_touch(self, order->side, price) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
book_remove(BookObject *self, PyObject *arg)
{
    OrderObject *order = arg_order(arg);
    if (order == NULL) {
        return NULL;
    }
    Level *level = order->level;
    if (level == NULL || level->book != self) {
        PyErr_Format(PyExc_ValueError, "order %lld is not resting in this book", order->id);
        return NULL;
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
    if (rc < 0) {
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

static PyObject *
book_take(BookObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long side, limit, lots;
    if (check_nargs("take", nargs, 5) < 0 || arg_int64(args[0], &side, "side") < 0 ||
        arg_limit(args[2], &limit) < 0 || arg_int64(args[3], &lots, "lots") < 0) {
        return NULL;
    }
    PyObject *account = args[1];
    PyObject *self_trades = args[4];
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
    if (PyType_Ready(&OrderType) < 0 || PyType_Ready(&BookType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Order", (PyObject *)&OrderType) < 0 ||
        PyModule_AddObjectRef(module, "OrderBook", (PyObject *)&BookType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
