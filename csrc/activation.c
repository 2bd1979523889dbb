/* activation.c (template, see real.h): element-wise activations with a slope β.
 *   linear      y = x                     f' = 1
 *   logistic(β) y = 1 / (1 + exp(-2βx))   f' = 2β y (1 - y)
 *   tanh(β)     y = tanh(βx)              f' = β (1 - y²)
 *   relu        y = max(0, x)             f' = [y > 0]
 * Each derivative is written from the cached output y, so backward needs no x. */

static inline REAL FN(act_grad)(REAL y, int kind, REAL beta) {
    switch (kind) {
    case SIA_LOGISTIC: return 2 * beta * y * (1 - y);
    case SIA_TANH: return beta * (1 - y * y);
    case SIA_RELU: return y > 0 ? (REAL)1 : (REAL)0;
    default: return 1;
    }
}

void FN(sia_act_forward)(REAL *out, const REAL *inp, int64_t n, int kind, double beta) {
    const REAL b = (REAL)beta, b2 = (REAL)(2 * beta);
    switch (kind) {
    case SIA_LOGISTIC:
        for (int64_t i = 0; i < n; i++) out[i] = 1 / (1 + exp(-b2 * inp[i]));
        break;
    case SIA_TANH:
        for (int64_t i = 0; i < n; i++) out[i] = tanh(b * inp[i]);
        break;
    case SIA_RELU:
        for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
        break;
    default:
        if (out != inp) memcpy(out, inp, (size_t)n * sizeof(REAL));
    }
}

void FN(sia_act_backward)(REAL *dinp, const REAL *dout, const REAL *out, int64_t n, int kind,
                          double beta) {
    const REAL b = (REAL)beta;
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * FN(act_grad)(out[i], kind, b);
}
