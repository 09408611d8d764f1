/* values.c: Python values read and written from C, for every file of the C core.
 *
 * No Python twin: these are the C spellings of `int(x)`, `obj.attr`, `obj.attr += n`,
 * `lst[i] += n`, `s.add((a, b))`, `d[order.id] = order`, `str(n)`. The `ex_*` ones read the Exchange's
 * attributes straight from its __dict__ (the engine path holds it for a command).
 */
#include "_native.h"

/* (no Python twin) int(value) as int64, or -1 with OverflowError/TypeError set. */
int
as_int64(PyObject *value, long long *out)
{
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return 0;
}

/* (no Python twin) An argument that must be an int fitting int64 (a TypeError naming it
 * otherwise). */
int
arg_int64(PyObject *value, long long *out, const char *name)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    return as_int64(value, out);
}

/* (no Python twin) A C function's argument count, checked (TypeError otherwise). */
int
check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t expected)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", name,
                     expected, nargs);
        return -1;
    }
    return 0;
}

/* (no Python twin) `lst.append(item)`: directly for a list, else through its method. */
int
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

/* (no Python twin) `obj.name` as int64: FAST_OK, FAST_FALLBACK (not an int, or beyond int64),
 * or -1. */
int
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

/* (no Python twin) `obj.name = v`. */
int
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

/* (no Python twin) The Exchange's attribute from its __dict__ (borrowed), or NULL with
 * AttributeError. */
PyObject *
ex_get(PyObject *exd, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(exd, name);
    if (value == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_AttributeError, name);
    }
    return value;
}

/* (no Python twin) The Exchange's attribute as int64, as attr_ll. */
int
ex_get_ll(PyObject *exd, PyObject *name, long long *out)
{
    PyObject *value = ex_get(exd, name);
    return value == NULL ? -1 : get_ll(value, out);
}

/* (no Python twin) The Exchange's `name = v`, in its __dict__. */
int
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

/* (no Python twin) An exact Python int of a 128-bit value. */
PyObject *
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

/* (no Python twin) `lst[i] += delta`, exact for any size. */
int
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

/* (no Python twin) `lst[i] = v`. */
int
list_set_ll(PyObject *list, Py_ssize_t i, long long v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return -1;
    }
    PyList_SetItem(list, i, value);
    return 0;
}

/* (no Python twin) `obj.name += delta` on a Python int attribute, exact for any size. */
int
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

/* (no Python twin) `container.add((a, b))` for a set of pairs. */
int
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

/* (no Python twin) `d[order.id] = order`. */
int
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


/* (no Python twin) Where `type` keeps its slot `name` (a field of a class with __slots__, such
 * as a dataclass with slots=True): the offset in an instance, or -1 with TypeError set when
 * `name` is no object slot of `type`. `slot_value` (_native.h) reads it. */
Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descriptor = PyObject_GetAttrString((PyObject *)type, name);
    if (descriptor == NULL) {
        return -1;
    }
    Py_ssize_t offset = -1;
    if (Py_IS_TYPE(descriptor, &PyMemberDescr_Type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY)) {
            offset = member->offset;
        }
    }
    Py_DECREF(descriptor);
    if (offset < 0) {
        PyErr_Format(PyExc_TypeError, "%.100s.%s is not a slot", type->tp_name, name);
    }
    return offset;
}

/* (no Python twin) `str(value)`: a non-negative int that fits 64 bits written out (the
 * general conversion costs several times as much for the small ids the engine numbers), any
 * other value the general way. A new reference, or NULL. */
PyObject *
int_text(PyObject *value)
{
    int overflow = 0;
    long long v = PyLong_CheckExact(value) ? PyLong_AsLongLongAndOverflow(value, &overflow) : -1;
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (v < 0 || overflow) {
        return PyObject_Str(value);
    }
    char digits[24];
    int length = 0;
    do {
        digits[sizeof(digits) - 1 - length++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    PyObject *text = PyUnicode_New(length, 127);
    if (text != NULL) {
        memcpy(PyUnicode_DATA(text), digits + sizeof(digits) - length, (size_t)length);
    }
    return text;
}
