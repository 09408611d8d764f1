/* settlement.c <-> settlement.py: settling a match's fills (the Settlement mixin).
 *
 * Quote from buyer to seller, base the other way, fees to the fee account; the buyer's lock
 * shrinks to what its remainder needs (locks.c), the seller's by the base it gave; positions
 * (ledger.c), fill records (fills.c), the market's statistics (market_stats.c), the trade
 * events and the makers' statuses follow. Each fill is first computed in 128-bit integers and
 * checked to fit 64 bits before anything is written (plan_fill); a fill that does not (never in
 * practice) and every fill after it are handed to the Python loop, which is exact for any size.
 */
#include "_native.h"

/* settlement.Settlement._record_fill; `own`: the fill is of the command's account (its FillEvent is
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
    if (fills == NULL || append_to(fills, record) < 0) {
        goto done;
    }
    if (c->changes_fills != NULL && append_to(c->changes_fills, record) < 0) {
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

/* One fill of settlement.Settlement._settle_fills's loop, computed before anything is written. */
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
    long long notional_units, lot_units, maker_rate, taker_rate, lock_rate;
} SettleContext;

/* settlement.Settlement._settle_fills's rates: the instrument's own maker, taker and lock rates
 * (a mirrored venue's, locks.c's own_rates_of), else the exchange's. FAST_OK, FAST_FALLBACK
 * (beyond int64) or -1. */
static int
fee_rates_of(Command *c, PyObject *instrument, SettleContext *x)
{
    const OwnRates *rates;
    int rc = own_rates_of(instrument, &rates);
    if (rc != FAST_OK) {
        return rc;
    }
    if (rates->own) {
        x->maker_rate = rates->maker;
        x->taker_rate = rates->taker;
        x->lock_rate = rates->lock;
        return FAST_OK;
    }
    rc = ex_get_ll(c->exd, s__maker_rate, &x->maker_rate);
    if (rc == FAST_OK) {
        rc = ex_get_ll(c->exd, s__taker_rate, &x->taker_rate);
    }
    x->lock_rate = c->lock_rate; /* the exchange's, as the command read it */
    return rc;
}

/* ledger.Account.balances[asset][i] as int64 (FAST_FALLBACK if it is not). */
static int
entry_ll(PyObject *entry, Py_ssize_t i, long long *out)
{
    return get_ll(PyList_GET_ITEM(entry, i), out);
}

/* settlement.Settlement._settle_fills's loop body up to its first write, for one fill: FAST_OK
 * (everything fits int64), FAST_FALLBACK (hand_backs.c's hand_back_maker_account, or a
 * balance entry the Python loop would not find, or a number beyond int64), or -1. */
static int
plan_fill(SettleContext *x, OrderObject *maker, long long lots, long long price, FillPlan *p)
{
    OrderObject *taker = x->taker;
    int taker_buys = taker->side == BUY;
    int rc = hand_back_maker_account(x->accounts, maker, x->taker_account, &p->maker_account);
    if (rc != FAST_OK) {
        return rc;
    }
    i128 v, notional, maker_fee, taker_fee;
    if (!mul128(price, lots, &v) || !mul128(v, x->notional_units, &notional) ||
        !fits64(notional) || !mul128(notional, x->maker_rate, &maker_fee) ||
        !mul128(notional, x->taker_rate, &taker_fee)) {
        return FAST_FALLBACK;
    }
    p->notional = (long long)notional;
    maker_fee = floordiv(maker_fee, RATE_SCALE);
    taker_fee = floordiv(taker_fee, RATE_SCALE);
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
    i128 released;
    if (!buy_release_on_fill(buyer_order->price, buyer_order->quantity, buyer_filled, lots,
                             x->notional_units, x->lock_rate, &released)) {
        return FAST_FALLBACK;
    }
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

/* (no Python twin: a plan's references, dropped) */
static void
plan_clear(FillPlan *p)
{
    Py_CLEAR(p->buyer_position);
    Py_CLEAR(p->seller_position);
}

/* settlement.Settlement._settle_fills without events, for the fills from `start` on; `stop` is
 * set to the first fill left to the Python loop (len(fills) when none is). */
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
        if (hand_back_fill(fill) != FAST_OK) {
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
                     append_to(c->changes_trades, trade) < 0;
            Py_XDECREF(trade);
            Py_CLEAR(buyer_name);
            Py_CLEAR(seller_name);
        }
        if (!failed && c->events != NULL && c->trades) {
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

/* settlement.Settlement._settle without events (the caller checked): the whole fill loop. */
int
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
        fit = fee_rates_of(c, instrument, &x);
    }
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
    /* After the loop: taker.updated, the fee account's total, its change. */
    if (stop > 0 || PyList_GET_SIZE(fills) == 0) {
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
