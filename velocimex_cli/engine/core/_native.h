/* _native.h: the one header of the C core, the extension module velocimex_cli.engine.core._native.
 *
 * The C core is the Python engine's twin, organised as it is: one C file per Python module it
 * mirrors, each function's comment naming its Python counterpart (module.function), which is
 * the reference it follows step by step. docs/engine.md is the guide; in short:
 *
 *   engine/core/_native.c      the module: its method table, PyInit, the interned names
 *   engine/core/values.c       Python values read and written from C (no Python twin)
 *   engine/core/orders.c       <-> orders.py        Order
 *   engine/core/book_levels.c  <-> book.py          OrderBook's price levels and FIFO queues:
 *                                                   rest, remove, take
 *   engine/core/book_queries.c <-> book.py          its queries (best, depth, fillable, ...)
 *   engine/core/book.c         <-> book.py          OrderBook: the type, its methods' arguments
 *   engine/core/fills.c        <-> fills.py         FillRecord
 *   engine/core/locks.c        <-> locks.py         what an order locks and a fill releases
 *   engine/core/ledger.c       <-> ledger.py        balances and positions
 *   engine/core/market_stats.c <-> market_stats.py  last price and 24h volume
 *   engine/core/views.c        <-> views.py         order_wire: an order's wire dict
 *   engine/core/hand_backs.c   (no Python twin)     every condition that hands a command back
 *                                                   to Python
 *   engine/core/commands.c     <-> commands.py      a command's begin, touched books, events,
 *                                                   the orders it closed, finish
 *   engine/core/protection.c   <-> protection.py    a market order's price bound
 *   engine/core/risk.c         <-> risk.py          the account's risk limits
 *   engine/core/settlement.c   <-> settlement.py    settling a match's fills
 *   engine/core/matching.c     <-> matching.py      executing a placed order, releasing one
 *   engine/core/native_path.c  <-> native_path.py   place / cancel / settle: the entry points
 *   engine/backtest/liquidity.c <-> core/liquidity.py  mirror_book (a backtest's recorded book)
 *   engine/backtest/recording.c <-> recording.py       recording_events (a recording's lines)
 *   engine/drivers/strategies/event_values.c <-> event_values.py  trade_tick (a strategy's
 *                                                   TradeTick of the engine's TradeEvent)
 *
 * Layers. After _native.c (the top: it names every entry point), the files are listed above,
 * and their functions declared below, lowest layer first, and a file calls only the files
 * before it:
 *
 *   values < orders < book_levels < book_queries < book < fills, locks, ledger, market_stats,
 *   views < hand_backs < commands < protection, risk < settlement < matching < native_path < _native
 *
 * and the backtest's two files call only the engine's lower layers. So a call never comes back
 * round. It mirrors the Python twins: matching.py's `_execute` settles through settlement.py,
 * both close orders through commands.py's `_order_closed`, and only exchange.py (native_path.c
 * here) calls them all. tests/engine/core/test_native_layers.py fails on a call that would
 * close a circle.
 *
 * The backtest's two files are compiled into this same extension (setup.py): mirror_book works
 * inside the book's levels and orders and calls book_levels.c, locks.c and values.c directly, which a
 * second extension could only reach through a capsule of function pointers kept in step by hand.
 *
 * Everything here is internal to the extension: symbols are hidden, only PyInit__native is
 * exported.
 */
#ifndef VELOCIMEX_NATIVE_H
#define VELOCIMEX_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <limits.h>
#include <stddef.h>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define BUY 0
/* fees.RATE_SCALE: a fee rate is a whole number of 10^-8 (fees.py). */
#define RATE_SCALE 100000000

/* ------------------------------------------------------------------------------ types */

typedef struct Level Level;
typedef struct BookObject BookObject;

/* orders.PyOrder's fields (orders.c). */
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

/* book.Level (book_levels.c). */
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

/* book.PyOrderBook (book.c). */
struct BookObject {
    PyObject_HEAD
    Side sides[2];
    long long sequence;
    int changed;
    PyObject *touched; /* None or a set of (side, price) */
};

/* fills.PyFillRecord (fills.c): one side of a trade, read-only, not GC-tracked. */
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

extern PyTypeObject OrderType;
extern PyTypeObject BookType;
extern PyTypeObject FillRecordType;

#define Order_Check(op) Py_IS_TYPE((op), &OrderType)

/* ------------------------------------------------------------------------------ numbers */

typedef __int128 i128;

/* What an engine-path step returns besides -1 (an error, with an exception set). */
#define FAST_OK 0
#define FAST_FALLBACK 1 /* not handled here: nothing was changed, run the Python path */

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
static inline int
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

/* ------------------------------------------------------------------------------ engine names
 *
 * The enum members, classes and callbacks the engine path uses, set once by
 * native_path.py's _configure_engine() (native_path.c), and the attribute names it reads,
 * interned once by PyInit (_native.c).
 */

typedef struct {
    PyObject *user, *crypto, *limit, *market, *gtc, *ioc;
    PyObject *filled, *partially_filled, *canceled, *rejected;
    PyObject *canceled_by_user, *ioc_remainder, *market_protection, *no_liquidity, *self_trade;
    PyObject *position_type, *fill_record_type, *fee_account, *to_micros, *trade_event;
    PyObject *order_event, *fill_event;
} EngineConstants;

extern EngineConstants E;

/* X(variable, attribute name) for every interned name. */
#define NATIVE_NAMES(X)                                                                         \
    X(s__listeners, "_listeners") X(s__events, "_events") X(s__always_open, "_always_open")     \
    X(s_books, "books") X(s_config, "config")                                                   \
    X(s_market_protection_bps, "market_protection_bps") X(s__lock_rate, "_lock_rate")           \
    X(s__maker_rate, "_maker_rate") X(s__taker_rate, "_taker_rate")                             \
    X(s_maker_rate, "maker_rate") X(s_taker_rate, "taker_rate") X(s_lock_rate, "lock_rate")     \
    X(s_next_order_id, "next_order_id") X(s_next_trade_id, "next_trade_id") X(s__now, "_now")   \
    X(s_clock, "clock") X(s__moment, "_moment") X(s__moment_micros, "_moment_micros")           \
    X(s__command_books, "_command_books") X(s__changes, "_changes") X(s__traded, "_traded")     \
    X(s__schedule_flush, "_schedule_flush") X(s__pending_events, "_pending_events")             \
    X(s__flush_pending, "_flush_pending") X(s_ledger, "ledger") X(s_stats, "stats")             \
    X(s__commit, "_commit") X(s__settle_fills, "_settle_fills") X(s_index, "index")             \
    X(s_venue, "venue") X(s_kind, "kind") X(s_quote, "quote") X(s_base, "base")                 \
    X(s_notional_units, "notional_units") X(s_lot_units, "lot_units")                           \
    X(s_balances, "balances") X(s_orders, "orders") X(s_positions, "positions")                 \
    X(s_name, "name") X(s_open_orders, "open_orders") X(s_risk, "risk") X(s_fills, "fills")     \
    X(s_accounts, "accounts") X(s_fees, "fees") X(s_limits, "limits") X(s_recent, "recent")     \
    X(s_price_band_bps, "price_band_bps") X(s_max_order_notional, "max_order_notional")         \
    X(s_max_open_orders, "max_open_orders")                                                     \
    X(s_max_orders_per_second, "max_orders_per_second") X(s_trades, "trades")                   \
    X(s_quantity, "quantity") X(s_cost, "cost") X(s_realized, "realized")                       \
    X(s_last_price, "last_price") X(s_volume, "volume") X(s_append, "append")                   \
    X(s_popleft, "popleft") X(s_taker, "taker") X(s_maker, "maker")                             \
    X(s__book_events, "_book_events") X(s__event_accounts, "_event_accounts")                   \
    X(s__trade_events, "_trade_events")                                                         \
    X(s__micros_clock, "_micros_clock") X(s_micros, "micros") X(s_client_ids, "client_ids")     \
    X(s_accepted, "accepted") X(s_filled_event, "filled")                                       \
    X(s_partially_filled_event, "partially_filled") X(s_canceled_event, "canceled")   \
    X(s_rejected_event, "rejected")                                                              \
    X(s_symbol, "symbol") X(s_lot_size, "lot_size") X(s_tick_size, "tick_size")                 \
    X(s_order_id, "order_id") X(s_client_order_id, "client_order_id")                           \
    X(s_timestamp, "timestamp") X(s_exchange, "exchange") X(s_side, "side") X(s_type, "type")   \
    X(s_time_in_force, "time_in_force") X(s_post_only, "post_only") X(s_price, "price")         \
    X(s_filled_quantity, "filled_quantity") X(s_average_price, "average_price")                 \
    X(s_status, "status") X(s_reason, "reason") X(s_updated_at, "updated_at")

#define NATIVE_DECLARE_NAME(variable, text) extern PyObject *variable;
NATIVE_NAMES(NATIVE_DECLARE_NAME)
#undef NATIVE_DECLARE_NAME

/* ------------------------------------------------------------------------------ a command */

/* What one command reads of the Exchange, held for its duration (commands.c). */
typedef struct {
    PyObject *exchange;
    PyObject *exd;     /* its __dict__ */
    PyObject *changes; /* None or the store's Changes */
    PyObject *changes_balances, *changes_orders, *changes_fills, *changes_positions,
        *changes_trades;
    PyObject *events;     /* with listeners: the command's events (its trades), else NULL */
    PyObject *interested; /* with listeners: the frozenset of accounts they want, else NULL */
    int own;              /* a listener wants the command's account's order and fill events */
    int trades;           /* a listener wants public trade events (`_trade_events`) */
    long long lock_rate; /* the exchange's, then its instrument's (locks.c's lock_rate_of) */
} Command;

/* ------------------------------------------------------------------------------ functions
 * Grouped by the file that defines them; each definition's comment names its Python twin. */

/* values.c */
int as_int64(PyObject *value, long long *out);
int arg_int64(PyObject *value, long long *out, const char *name);
int check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t expected);
int append_to(PyObject *list, PyObject *item);
int attr_ll(PyObject *obj, PyObject *name, long long *out);
int set_attr_ll(PyObject *obj, PyObject *name, long long v);
PyObject *ex_get(PyObject *exd, PyObject *name);
int ex_get_ll(PyObject *exd, PyObject *name, long long *out);
int ex_set_ll(PyObject *exd, PyObject *name, long long v);
PyObject *pylong_from_i128(i128 v);
int list_add(PyObject *list, Py_ssize_t i, i128 delta);
int list_set_ll(PyObject *list, Py_ssize_t i, long long v);
int attr_add(PyObject *obj, PyObject *name, long long delta);
int set_add_pair(PyObject *set, PyObject *a, PyObject *b);
int dict_set_order(PyObject *dict, OrderObject *order);
Py_ssize_t slot_offset(PyTypeObject *type, const char *name);
PyObject *int_text(PyObject *value);

/* `object.<slot>` of an object of the type `slot_offset` read `offset` from (the caller checks
 * the type): a new reference, or NULL with AttributeError set when the slot is empty. */
static inline PyObject *
slot_value(PyObject *object, Py_ssize_t offset, PyObject *name)
{
    PyObject *value = *(PyObject **)((char *)object + offset);
    if (value == NULL) {
        PyErr_SetObject(PyExc_AttributeError, name);
        return NULL;
    }
    return Py_NewRef(value);
}

/* orders.c */
int order_init_fields(OrderObject *self, long long id, PyObject *account, PyObject *instrument,
                      long long side, PyObject *type, PyObject *tif, PyObject *post_only,
                      long long price, long long quantity, PyObject *client_id,
                      long long created);
PyObject *native_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

static inline void
order_set_status(OrderObject *order, PyObject *status)
{
    Py_SETREF(order->status, Py_NewRef(status));
}

static inline void
order_set_reason(OrderObject *order, PyObject *reason)
{
    Py_SETREF(order->reason, Py_NewRef(reason));
}

/* book_levels.c */
Level *side_find(Side *s, int side, long long price);
int book_touch(BookObject *self, long long side, long long price);
int book_rest_order(BookObject *self, OrderObject *order);
int book_remove_order(BookObject *self, OrderObject *order);
PyObject *book_take_fills(BookObject *self, long long side, PyObject *account, long long limit,
                          long long lots, PyObject *self_trades);

/* book_queries.c: the OrderBook's query methods (book.c's method table) */
int arg_limit(PyObject *value, long long *out);
PyObject *book_best_bid(BookObject *self, PyObject *unused);
PyObject *book_best_ask(BookObject *self, PyObject *unused);
PyObject *book_level_quantity(BookObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *book_depth(BookObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *book_resting_orders(BookObject *self, PyObject *arg);
PyObject *book_level_orders(BookObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *book_resting_count(BookObject *self, PyObject *unused);
PyObject *book_crosses(BookObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *book_fillable(BookObject *self, PyObject *const *args, Py_ssize_t nargs);
int book_meets_maker_of(BookObject *self, long long side, PyObject *account, long long limit,
                        long long lots, PyObject *accounts);

/* Is this maker's account the given one? (== on the account objects, identity first.) */
static inline int
same_account(OrderObject *maker, PyObject *account)
{
    if (maker->account == account) {
        return 1;
    }
    return PyObject_RichCompareBool(maker->account, account, Py_EQ);
}

/* The side's best price, or 0 with `*found` false (book.PyOrderBook.best_bid / best_ask). */
static inline long long
best_price(BookObject *book, int side, int *found)
{
    Side *s = &book->sides[side];
    *found = s->len != 0;
    return *found ? s->items[s->len - 1]->price : 0;
}

/* fills.c */
PyObject *fill_record_make(long long trade_id, PyObject *order, long long price, long long lots,
                           long long fee, PyObject *liquidity, long long timestamp);

/* locks.c */
typedef struct {
    int own; /* the instrument has rates of its own (else the exchange's apply) */
    long long maker, taker, lock;
} OwnRates;
int own_rates_of(PyObject *instrument, const OwnRates **out);
int lock_rate_of(PyObject *instrument, long long exchange_rate, long long *out);
int lock_for_lots(long long side, long long price, long long lots, long long notional_units,
                  long long lot_units, long long lock_rate, i128 *out);
int buy_release_on_fill(long long price, long long quantity, long long filled, long long lots,
                        long long notional_units, long long lock_rate, i128 *out);

/* ledger.c */
PyObject *balance_entry(PyObject *balances, PyObject *asset);
PyObject *balance_entry_or_new(PyObject *balances, PyObject *asset);
void position_apply(long long *quantity, long long cost, long long realized, long long lots,
                    long long notional, long long fee, i128 *new_quantity, i128 *new_cost,
                    i128 *new_realized);
int position_read(PyObject *position, long long *q, long long *c, long long *r);
int position_write(PyObject *position, i128 q, i128 c, i128 r);
PyObject *position_of(PyObject *account, PyObject *index);

/* market_stats.c */
int stats_record(PyObject *stats, long long now, PyObject *price, PyObject *lots);

/* views.c */
PyObject *views_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *order_wire(PyObject *module, PyObject *order);

/* hand_backs.c: the conditions (listed at its top) */
int hand_back_command_state(PyObject *listeners, PyObject *events);
int hand_back_listeners(Command *c, PyObject *account);
int hand_back_changes(Command *c);
int hand_back_replay(PyObject *account, PyObject *client_id);
int hand_back_session_hours(PyObject *exd, PyObject *instrument);
int hand_back_time_in_force(PyObject *tif);
int hand_back_order(PyObject *order);
int hand_back_book(PyObject *book);
int hand_back_balance(PyObject *balances, PyObject *asset, i128 required, PyObject **balance);
int hand_back_makers_listened(Command *c, BookObject *book, long long side, PyObject *name,
                              long long ticks, long long lots);
int hand_back_fill(PyObject *fill);
int hand_back_maker_account(PyObject *accounts, OrderObject *maker, PyObject *taker_account,
                            PyObject **out);

/* commands.c */
void command_clear(Command *c);
int command_open(Command *c, PyObject *exchange, PyObject *account);
int command_micros(Command *c, long long *out);
int command_begin(Command *c, long long *now);
int command_touch(Command *c, PyObject *index);
int command_emit_order(Command *c, OrderObject *order, PyObject *event);
int command_finish(Command *c);
int order_closed(Command *c, PyObject *account, OrderObject *order);

/* protection.c */
int market_bound(Command *c, BookObject *book, int buy, long long *out, int *bounded);

/* risk.c */
int risk_passes(Command *c, PyObject *risk, BookObject *book, int buy, PyObject *price,
                long long ticks, long long lots, long long notional_units, int may_rest,
                PyObject *account, PyObject **recent_out, long long *now_out);

/* settlement.c */
int settle_fills(Command *c, PyObject *taker_account, OrderObject *taker, PyObject *fills);

/* matching.c */
int order_release(Command *c, PyObject *account, OrderObject *order, PyObject *reason,
                  PyObject *status);
int place_execute(Command *c, PyObject *account, OrderObject *order, BookObject *book,
                  PyObject *index, PyObject *balance, i128 required, PyObject *asset,
                  PyObject *reject);
int cancel_execute(Command *c, PyObject *account, OrderObject *order, BookObject *book,
                   PyObject *index);

/* native_path.c: the module's commands */
PyObject *engine_place(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *engine_cancel(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *engine_settle(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *engine_configure(PyObject *module, PyObject *args, PyObject *kwargs);

/* engine/backtest/liquidity.c */
PyObject *mirror_book(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* engine/backtest/recording.c */
PyObject *recording_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* engine/drivers/strategies/event_values.c (calls only values.c) */
PyObject *ticks_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *trade_tick(PyObject *module, PyObject *trade);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif /* VELOCIMEX_NATIVE_H */
