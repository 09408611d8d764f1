/* orders.c <-> orders.py: Order, the C twin of orders.PyOrder.
 *
 * Why: a resting Python order is a GC-tracked object, and a book of a million of them makes
 * every full collection walk a million objects. An Order here holds no reference cycles
 * (strings, enum members, ints, its instrument), so it is *not* GC-tracked and costs the
 * collector nothing.
 *
 * Prices and sizes are int64: the engine bounds both at 10**15 ticks/lots (instruments.py
 * MAX_STEPS). `filled_notional` stays a Python int (price x lots x units can exceed int64).
 * The book links (prev, next, level) belong to book_levels.c.
 */
#include "_native.h"

/* Set once by _configure() from orders.py: Status.OPEN, Status.PARTIALLY_FILLED, SIDE_NAMES. */
static PyObject *status_open = NULL;
static PyObject *status_partially_filled = NULL;
static PyObject *side_names = NULL;

/* orders.PyOrder.__init__: a new order's fields (status OPEN, nothing filled, not resting). */
int
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

/* orders.PyOrder(...) with any arguments (the type's tp_new). */
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

/* orders.PyOrder(...) with 11 positional arguments, the engine's only form, skips the
 * tuple/dict argument parsing; any other call goes through order_new. */
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

/* (no Python twin: the release of an order's references) */
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

/* orders.PyOrder.__repr__ */
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

/* orders.PyOrder's object attributes (account, instrument, type, ...): any value, but never
 * deleted (the C code relies on them being set). */
static PyObject *
order_get_object(OrderObject *self, void *offset)
{
    PyObject *value = *(PyObject **)((char *)self + (size_t)offset);
    return Py_NewRef(value);
}

/* orders.PyOrder's object attributes, set. */
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

/* orders.PyOrder.resting: true while the order sits in a book (its level is set). */
static PyObject *
order_get_resting(OrderObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->level != NULL);
}

/* orders.PyOrder.remaining */
static PyObject *
order_get_remaining(OrderObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->quantity - self->filled);
}

/* orders.PyOrder.is_live */
static PyObject *
order_get_is_live(OrderObject *self, void *closure)
{
    (void)closure;
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

PyTypeObject OrderType = {
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

/* orders._load_native: `_configure(OPEN, PARTIALLY_FILLED, SIDE_NAMES)`, the enum members and
 * names an Order uses, set once when orders.py imports the C core. */
PyObject *
native_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_nargs("_configure", nargs, 3) < 0) {
        return NULL;
    }
    Py_XSETREF(status_open, Py_NewRef(args[0]));
    Py_XSETREF(status_partially_filled, Py_NewRef(args[1]));
    Py_XSETREF(side_names, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}
