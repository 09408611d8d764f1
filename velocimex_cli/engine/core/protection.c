/* protection.c <-> protection.py: the price bound of a market order. */
#include "_native.h"

/* protection.market_bound: FAST_OK with the bound in `*out` and `*bounded` 1, or with
 * `*bounded` 0 when there is no opposite side (Python's None: the order is rejected with
 * NO_LIQUIDITY); FAST_FALLBACK when the bound is beyond int64; or -1. */
int
market_bound(Command *c, BookObject *book, int buy, long long *out, int *bounded)
{
    int found;
    long long best = best_price(book, buy ? 1 : 0, &found);
    *bounded = found;
    if (!found) {
        *out = 0;
        return FAST_OK;
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
