/* loss.c (template, see real.h): MSE, binary cross-entropy and MAE, summed over features (or,
 * for a SIA_LOSS_MEAN code, averaged over them) and averaged over the batch, with the output
 * activation's derivative folded into backward.
 *
 * BCE with a logistic(β) output is computed from the pre-activation: with u = 2βz,
 *   -[t log y + (1-t) log(1-y)] = softplus(u) - t u = max(u, 0) - t u + log1p(exp(-|u|)),
 * which never takes log(0), and its gradient is dL/dz = 2β (y - t).
 * With any other output, y is clamped to [ε, 1-ε] (ε = SIA_BCE_EPS), and the clamped region
 * has zero gradient, as in Keras. */

static inline REAL FN(bce_clamp)(REAL y) {
    const REAL lo = (REAL)SIA_BCE_EPS, hi = 1 - (REAL)SIA_BCE_EPS;
    return y < lo ? lo : (y > hi ? hi : y);
}

/* The MSE or logistic-BCE terms of one vector: z, y, t (pre-activation, output, target).
   With yout (BCE only), also the output y = 1/(1 + exp(-u)) from the same e = exp(-|u|):
   1/(1 + e) for u >= 0, e/(1 + e) below, so one exp serves the output and its loss. */
SIA_INLINE sia_vr FN(loss_terms)(sia_vr z, sia_vr y, sia_vr t, int mse, REAL b2, sia_vr *yout) {
    if (mse) {
        const sia_vr d = y - t;
        return d * d;
    }
    /* softplus(u) - t u = max(u, 0) - t u + log1p(exp(-|u|)); exp(-|u|) below the clamp is 0
       in libm too; u = NaN must stay NaN (vmax keeps it) */
    const sia_vr u = b2 * z;
    sia_vr e;
    FN(vexpm1)(FN(vmax)(-FN(vabs)(u), SIA_IS32 ? (REAL)-88 : (REAL)-708), &e);
    if (yout) {
        const sia_vr q = 1 / (1 + e);
        *yout = FN(vselect)(u >= 0, q, e * q);
    }
    return FN(vmax)(u, 0) - t * u + FN(vlog1p01)(e);
}

/* Σ_j of the MSE or logistic-BCE terms over n elements, in VL partial sums (vector lanes),
   added lane by lane at the end: the same value as the plain loop up to float rounding. One
   loop per loss over the whole vectors, the partial one after it: with the kind tested and
   the tail masked inside one loop, GCC kept the sums on the stack, a store and a reload per
   vector on the loop's critical path. */
SIA_INLINE REAL FN(loss_terms_sum)(const REAL *z, const REAL *y, const REAL *t, int64_t n, int mse,
                                   REAL b2, REAL *yout) {
    sia_vr acc = {0}, yv;
    int64_t j = 0;
    if (mse)
        for (; j + SIA_VL <= n; j += SIA_VL)
            acc += FN(loss_terms)((sia_vr){0}, *(const sia_vr_u *)(y + j), *(const sia_vr_u *)(t + j), 1, b2, NULL);
    else if (yout)
        for (; j + SIA_VL <= n; j += SIA_VL) {
            acc += FN(loss_terms)(*(const sia_vr_u *)(z + j), (sia_vr){0}, *(const sia_vr_u *)(t + j), 0, b2, &yv);
            *(sia_vr_u *)(yout + j) = yv;
        }
    else
        for (; j + SIA_VL <= n; j += SIA_VL)
            acc += FN(loss_terms)(*(const sia_vr_u *)(z + j), (sia_vr){0}, *(const sia_vr_u *)(t + j), 0, b2, NULL);
    if (j < n) { /* the padding lanes would hold log1p(1) for BCE: drop them */
        const int64_t m = n - j;
        sia_vr term = FN(loss_terms)(mse ? (sia_vr){0} : FN(vload_part)(z + j, m),
                                     mse ? FN(vload_part)(y + j, m) : (sia_vr){0},
                                     FN(vload_part)(t + j, m), mse, b2, yout ? &yv : NULL);
        if (yout) FN(vstore_part)(yout + j, yv, m);
        sia_vi lane;
        for (int l = 0; l < SIA_VL; l++) lane[l] = l;
        acc += FN(vselect)(lane < (int)m, term, (sia_vr){0});
    }
    REAL s = 0;
    for (int l = 0; l < SIA_VL; l++) s += acc[l];
    return s;
}

/* sia_loss_forward; for BCE with a logistic output, yout non-NULL also receives the output
   (B, n) computed from z (loss_terms), so that the network's forward may leave it out. */
/* The reduction's divisor: B, or B n for a mean over the features too. */
static inline double sia_loss_count(int loss, int64_t B, int64_t n) {
    return (double)B * (sia_loss_is_mean(loss) ? (double)n : 1.0);
}

SIA_CLONES
static double FN(loss_forward)(const REAL *z, const REAL *y, const REAL *t, int64_t B, int64_t n,
                               int code, int kind, double beta, REAL *yout) {
    const REAL b2 = (REAL)(2 * beta);
    const int loss = sia_loss_kind(code);
    double total = 0;
    if (loss == SIA_MAE) {
        for (int64_t r = 0; r < B; r++) {
            REAL s = 0;
            for (int64_t j = 0; j < n; j++) s += fabs(y[r * n + j] - t[r * n + j]);
            total += (double)s;
        }
    } else if (loss == SIA_MSE || kind == SIA_LOGISTIC) {
        /* The terms are element-wise: the batch is one flat run of B n elements, summed in
           pieces of LOSS_PIECE (a few terms per lane each, in REAL) whose sums add up in double.
           Row by row, a row of n = 35 floats was 4 vectors and a partial one. */
        enum { LOSS_PIECE = 32 * SIA_VL };
        const int64_t N = B * n;
        for (int64_t i = 0; i < N; i += LOSS_PIECE)
            total += (double)FN(loss_terms_sum)(z + i, y + i, t + i, N - i < LOSS_PIECE ? N - i : LOSS_PIECE,
                                                loss == SIA_MSE, b2, yout && loss != SIA_MSE ? yout + i : NULL);
    } else {
        for (int64_t r = 0; r < B; r++) {
            REAL s = 0;
            const REAL *yr = y + r * n, *tr = t + r * n;
            for (int64_t j = 0; j < n; j++) {
                REAL yc = FN(bce_clamp)(yr[j]);
                s -= tr[j] * log(yc) + (1 - tr[j]) * log(1 - yc);
            }
            total += (double)s;
        }
    }
    return B > 0 ? total / sia_loss_count(code, B, n) : 0.0;
}

double FN(sia_loss_forward)(const REAL *z, const REAL *y, const REAL *t, int64_t B, int64_t n,
                            int loss, int kind, double beta) {
    return FN(loss_forward)(z, y, t, B, n, loss, kind, beta, NULL);
}

/* MSE: dL/dy = 2 (y - t) / B, then dz = dL/dy · f'(y).
 * BCE, logistic: dz = 2β (y - t) / B.
 * BCE, other:    dL/dy = (y - t) / (y (1 - y)) / B inside the clamp, 0 outside; dz = dL/dy · f'(y).
 * MAE: dL/dy = sign(y - t) / B (0 where y = t, as PyTorch and Keras), dz = dL/dy · f'(y).
 * A mean over the features divides by B n instead of B.
 * dz += that when acc, else dz = 0 + that: the values of a zeroed dz added to, without the
 * zeroing pass (whose stores the loop's loads would straddle, and wait for). */
SIA_INLINE void FN(loss_grad)(REAL *dz, const REAL *y, const REAL *t, int64_t B, int64_t n,
                              int code, int kind, double beta, const int acc) {
    const REAL invB = (REAL)(1.0 / sia_loss_count(code, B, n)), b = (REAL)beta, b2 = (REAL)(2 * beta);
    const int64_t N = B * n;
    const int loss = sia_loss_kind(code);
#define SIA_PUT(i, e) (dz[i] = (acc ? dz[i] : (REAL)0) + (e))
    if (loss == SIA_MAE) {
        for (int64_t i = 0; i < N; i++)
            SIA_PUT(i, (REAL)((y[i] > t[i]) - (y[i] < t[i])) * invB * FN(act_grad)(y[i], kind, b));
    } else if (loss == SIA_MSE) { /* one loop per output kind, so that each vectorizes */
        if (kind == SIA_LOGISTIC)
            for (int64_t i = 0; i < N; i++) SIA_PUT(i, 2 * (y[i] - t[i]) * invB * (b2 * y[i] * (1 - y[i])));
        else if (kind == SIA_TANH)
            for (int64_t i = 0; i < N; i++) SIA_PUT(i, 2 * (y[i] - t[i]) * invB * (b * (1 - y[i] * y[i])));
        else
            for (int64_t i = 0; i < N; i++) SIA_PUT(i, 2 * (y[i] - t[i]) * invB * FN(act_grad)(y[i], kind, b));
    } else if (kind == SIA_LOGISTIC) {
        const REAL g = 2 * b * invB;
        for (int64_t i = 0; i < N; i++) SIA_PUT(i, g * (y[i] - t[i]));
    } else {
        const REAL lo = (REAL)SIA_BCE_EPS, hi = 1 - (REAL)SIA_BCE_EPS;
        for (int64_t i = 0; i < N; i++) {
            if (y[i] < lo || y[i] > hi) {
                if (!acc) dz[i] = 0;
                continue;
            }
            SIA_PUT(i, (y[i] - t[i]) / (y[i] * (1 - y[i])) * invB * FN(act_grad)(y[i], kind, b));
        }
    }
#undef SIA_PUT
}

SIA_CLONES
void FN(sia_loss_backward)(REAL *dz, const REAL *z, const REAL *y, const REAL *t, int64_t B,
                           int64_t n, int loss, int kind, double beta) {
    (void)z;
    FN(loss_grad)(dz, y, t, B, n, loss, kind, beta, 1);
}

/* sia_loss_backward into a dz that it writes, as if zeroed first. */
SIA_CLONES
static void FN(loss_backward_write)(REAL *dz, const REAL *y, const REAL *t, int64_t B, int64_t n,
                                    int loss, int kind, double beta) {
    FN(loss_grad)(dz, y, t, B, n, loss, kind, beta, 0);
}
