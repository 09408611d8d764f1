/* ledger.c <-> ledger.py: an account's balances ([total, locked] lists) and positions.
 *
 * The balances and positions stay the Python objects ledger.py keeps; these functions read and
 * write them from C.
 */
#include "_native.h"

/* ledger.Account.balances.get(asset): a balance entry [total, locked] (borrowed), or NULL: none
 * (no exception) or an error. */
PyObject *
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

/* ledger.Account.balance(asset): the entry, created as [0, 0] if missing (borrowed). */
PyObject *
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

/* ledger.Position.apply(lots, notional) then `realized -= fee` (settlement.py), on int64 values
 * in 128 bits; ledger._pro_rata inline. */
void
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

/* ledger.Position's fields (quantity, cost, realized) as int64 (FAST_FALLBACK if one is not). */
int
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

/* ledger.Position's fields, set. */
int
position_write(PyObject *position, i128 q, i128 c, i128 r)
{
    if (set_attr_ll(position, s_quantity, (long long)q) < 0 ||
        set_attr_ll(position, s_cost, (long long)c) < 0 ||
        set_attr_ll(position, s_realized, (long long)r) < 0) {
        return -1;
    }
    return 0;
}

/* ledger.Account.positions.get(index) or .setdefault(index, Position()), as settlement.py does
 * (a new reference). */
PyObject *
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
