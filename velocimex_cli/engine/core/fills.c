/* fills.c <-> fills.py: FillRecord, the C twin of fills.PyFillRecord.
 *
 * One side of a trade: read-only, and like Order not GC-tracked, since an account keeps every
 * fill it ever had. The integer fields are int64.
 */
#include "_native.h"

/* fills.PyFillRecord.__init__, from C values. */
PyObject *
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

/* fills.PyFillRecord(trade_id, order, price, lots, fee, liquidity, timestamp) */
static PyObject *
fill_record_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)type;
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

/* fills.PyFillRecord(...) through the type's tp_new: positional arguments only. */
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

/* (no Python twin: the release of a record's references) */
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

PyTypeObject FillRecordType = {
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
