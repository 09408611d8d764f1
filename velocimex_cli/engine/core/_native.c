/* _native.c: the extension module velocimex_cli.engine.core._native, the C core.
 *
 * Its method table and its initialisation, and the attribute names the engine path interns
 * once. The code is in one C file per Python module it mirrors (see _native.h); the Python side
 * is orders.py (Order), book.py (OrderBook), fills.py (FillRecord), views.py (order_wire),
 * native_path.py (place, cancel, settle), liquidity.py (mirror_book) and backtest/recording.py (recording_events), each
 * falling back to pure Python when this module cannot be imported. docs/engine.md is the guide.
 */
#include "_native.h"

#define NATIVE_DEFINE_NAME(variable, text) PyObject *variable;
NATIVE_NAMES(NATIVE_DEFINE_NAME)
#undef NATIVE_DEFINE_NAME

/* (no Python twin) The engine path's attribute names, interned once at the import. */
static int
intern_engine_names(void)
{
#define NATIVE_INTERN_NAME(variable, text)                                                      \
    if ((variable = PyUnicode_InternFromString(text)) == NULL) {                                \
        return -1;                                                                              \
    }
    NATIVE_NAMES(NATIVE_INTERN_NAME)
#undef NATIVE_INTERN_NAME
    return 0;
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
    {"_configure_ticks", (PyCFunction)(void (*)(void))ticks_configure, METH_FASTCALL,
     "_configure_ticks(TradeTick, values, new_values, SIDE_NAMES, UTC, fromtimestamp, cached): "
     "what trade_tick keeps and builds with (event_values.py)"},
    {"_configure_views", (PyCFunction)(void (*)(void))views_configure, METH_FASTCALL,
     "_configure_views(WIRE_NAME, SIDE_NAMES, LIMIT, iso_from_micros, average_price, "
     "python_order_wire): what order_wire reads (views.py)"},
    {"order_wire", (PyCFunction)order_wire, METH_O,
     "order_wire(order) -> the order's wire dict (views.python_order_wire's twin)"},
    {"trade_tick", (PyCFunction)trade_tick, METH_O,
     "trade_tick(trade) -> the strategy's TradeTick of the engine's TradeEvent"},
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

/* (no Python twin) The import of velocimex_cli.engine.core._native. */
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
