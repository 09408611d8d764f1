/* recording.c <-> backtest/recording.py: a recording's typed lines read in C.
 *
 * It sits beside the backtest that reads recordings and is compiled into the C core's
 * extension (velocimex_cli.engine.core._native, see setup.py) so that one build and one switch
 * (orders.NATIVE, VMX_PURE_PYTHON) select all of the C.
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
#include "../core/_native.h"

static PyObject *r_t, *r_msg, *r_exchange, *r_symbol, *r_changes, *r_side, *r_price,
    *r_quantity, *r_bids, *r_asks, *r_bid, *r_buy;

/* (no Python twin) The attribute names read, interned once. */
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

/* (no Python twin) A tuple of the given items (stolen), untracked; NULL on an error. */
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

/* recording.read_recording's `ticks[number]` / `lots[number]` caches: the cached steps of
 * `number` (a new reference) in *out: 0, R_HAND_BACK (not cached, not hashable), -1 (an error). */
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

/* recording.read_recording's level: (ticks, lots) from a Level or Change struct in *out. */
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

/* recording.read_recording's snapshot side: the levels of the list `levels` as a tuple of
 * (ticks, lots). */
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

/* recording.read_recording's delta: its changes split into (bids, asks) tuples. */
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

/* recording.read_recording's loop body for one decoded entry: its event (or NULL in *out:
 * nothing to replay) and its time. */
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

/* recording.read_recording's UTF-8 check, for ASCII only: whether the n bytes at p are all
 * ASCII (a word at a time); a line that is not is handed back. */
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

/* recording.read_recording's typed path (see the top): `recording_events(...)`. */
PyObject *
recording_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
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
