/* dense.c (template, see real.h): the fully connected layer, and its tied twin.
 *   DENSE    in (B, n_in), W (n_out, n_in), b (n_out): z = in Wᵀ + b
 *   DENSE_T  W' (n_in, n_out) = the W of another dense layer (at l->tied), b (n_out) at l->off:
 *            z = in W' + b (the other layer's map, transposed: tied weights)
 * The engine (net.c) runs a one-row (B = 1) dense layer through the fused row kernels below
 * (the bias and activation in the product's pass); the kind functions at the end of the file
 * are the batch path, a gemm each. */

/* inp (B, n_in), W (n_out, n_in), b (n_out), out (B, n_out): out = inp Wᵀ + b. */
void FN(sia_dense_forward)(REAL *out, const REAL *inp, const REAL *W, const REAL *b,
                           int64_t B, int64_t n_in, int64_t n_out, int nthreads) {
    for (int64_t r = 0; r < B; r++) memcpy(out + r * n_out, b, (size_t)n_out * sizeof(REAL));
    FN(sia_gemm)(out, inp, W, B, n_out, n_in, 0, 1, 1, nthreads);
}

/* Forward was out[r,o] = Σ_i inp[r,i] W[o,i] + b[o], so
 *   dW[o,i] += Σ_r dout[r,o] inp[r,i]   (doutᵀ inp)
 *   db[o]   += Σ_r dout[r,o]
 *   dinp[r,i] += Σ_o dout[r,o] W[o,i]   (dout W). */
void FN(sia_dense_backward)(REAL *dinp, REAL *dW, REAL *db, const REAL *dout, const REAL *inp,
                            const REAL *W, int64_t B, int64_t n_in, int64_t n_out, int nthreads) {
    FN(sia_gemm)(dW, dout, inp, n_out, n_in, B, 1, 0, 1, nthreads);
    for (int64_t r = 0; r < B; r++) {
        const REAL *d = dout + r * n_out;
        for (int64_t o = 0; o < n_out; o++) db[o] += d[o];
    }
    if (dinp) FN(sia_gemm)(dinp, dout, W, B, n_in, n_out, 0, 0, 1, nthreads);
}

/* ---- one row (B = 1): matrix-vector products with the bias and activation fused ---- */

/* y = f(x) and f'(y) for a vector, as sia_act_forward / sia_act_backward compute them. */
SIA_INLINE sia_vr FN(vact)(sia_vr x, int kind, REAL beta) {
    switch (kind) {
    case SIA_LOGISTIC: return FN(vlogistic_neg)(-2 * beta * x);
    case SIA_TANH: return FN(vtanh)(beta * x);
    case SIA_RELU: return FN(vselect)(x > 0, x, (sia_vr){0});
    case SIA_ELU:
    case SIA_SELU: return FN(velu)(x, SIA_ELU_SA(kind, beta), SIA_ELU_S(kind));
    default: return x;
    }
}
SIA_INLINE sia_vr FN(vact_grad)(sia_vr y, int kind, REAL beta) {
    switch (kind) {
    case SIA_LOGISTIC: return 2 * beta * y * (1 - y);
    case SIA_TANH: return beta * (1 - y * y);
    case SIA_RELU: return FN(vselect)(y > 0, (sia_vr){0} + 1, (sia_vr){0});
    case SIA_ELU:
    case SIA_SELU: return FN(velu_grad)(y, SIA_ELU_SA(kind, beta), SIA_ELU_S(kind));
    default: return (sia_vr){0} + 1;
    }
}

/* x (n_in), W (n_out, n_in), b (n_out): z = W x + b and y = f(z), both (n_out).
 * VL outputs at a time (gemm_dot_rows); the last group is the VL outputs ending at n_out, which
 * recomputes a few of the group before it, to the same values. Fewer than VL outputs: the rows
 * past n_out repeat the last one and are not stored.
 * All of z first, then y from it, group by group as z was stored (each load forwarded from one
 * store): the activation is a long chain per vector (exp's polynomial, a division), and with
 * the products out of the way the out-of-order window holds the chains of several groups at
 * once; with each group's product before its activation it held about three. */
SIA_CLONES
static void FN(dense_act_forward_row)(REAL *y, REAL *z, const REAL *x, const REAL *W,
                                      const REAL *b, int64_t n_in, int64_t n_out, int kind,
                                      double beta) {
    const sia_vr xt = n_in >= SIA_VL ? gemm_tail_x(x, n_in) : FN(vload_part)(x, n_in);
    for (int64_t o = 0; o < n_out; o += SIA_VL) {
        const int64_t o0 = o + SIA_VL <= n_out ? o : (n_out >= SIA_VL ? n_out - SIA_VL : 0);
        const REAL *w[SIA_VL];
        for (int r = 0; r < SIA_VL; r++) /* rows past n_out (only when n_out < VL): the last */
            w[r] = W + (n_out >= SIA_VL || r < n_out ? o0 + r : n_out - 1) * n_in;
        const sia_vr zv = gemm_dot_rows(w, x, xt, n_in) + FN(vload)(b + o0, n_out - o0);
        if (n_out >= SIA_VL) *(sia_vr_u *)(z + o0) = zv;
        else FN(vstore_part)(z, zv, n_out);
    }
    for (int64_t o = 0; o < n_out; o += SIA_VL) {
        const int64_t o0 = o + SIA_VL <= n_out ? o : (n_out >= SIA_VL ? n_out - SIA_VL : 0);
        if (n_out >= SIA_VL) *(sia_vr_u *)(y + o0) = FN(vact)(*(const sia_vr_u *)(z + o0), kind, (REAL)beta);
        else FN(vstore_part)(y, FN(vact)(FN(vload_part)(z, n_out), kind, (REAL)beta), n_out);
    }
}

/* Vectors of columns that one pass of the one-row backward keeps in registers: 9 sums (35
   doubles), a broadcast dz[o] and a product, of the 16 of AVX2. */
enum { SIA_DX_VECS = 9 };

/* dx[c] = Σ_o dz[o] W[o, c] (times f'(y[c]) when kind >= 0) for the nv vectors of columns
 * c = v VL (v < nv) of a block of dx, W and y that starts at their column j; left = n_in - j
 * columns from there. The last vector is the one ending at n_in when left is not a whole
 * number of vectors (same values where it overlaps the one before). nv is a constant at each
 * call, so that the nv sums stay in registers over the rows o: with nv a variable GCC kept
 * them on the stack, a store and a reload on each sum's chain.
 * dW non-NULL (the block is the whole row, j = 0): also dW[o, :] = dz[o] y, row o written as
 * its dz[o] is used, so that the stores run alongside the chains of sums instead of before or
 * after them. */
SIA_INLINE void FN(dx_block)(REAL *dx, REAL *dW, const REAL *dz, const REAL *y, const REAL *W,
                             int64_t n_in, int64_t n_out, int64_t left, const int nv, int kind,
                             REAL bt) {
    int64_t at[SIA_DX_VECS];
    for (int v = 0; v < nv; v++) at[v] = (v + 1) * SIA_VL <= left ? v * SIA_VL : left - SIA_VL;
    sia_vr s[SIA_DX_VECS];
    for (int v = 0; v < nv; v++) s[v] = (sia_vr){0};
    const REAL *w = W;
    for (int64_t o = 0; o < n_out; o++, w += n_in) {
        const REAL d = dz[o];
        for (int v = 0; v < nv; v++) s[v] += d * *(const sia_vr_u *)(w + at[v]);
        if (dW)
            for (int v = 0; v < nv; v++) *(sia_vr_u *)(dW + o * n_in + at[v]) = d * *(const sia_vr_u *)(y + at[v]);
    }
    for (int v = 0; v < nv; v++) {
        if (kind >= 0) s[v] *= FN(vact_grad)(*(const sia_vr_u *)(y + at[v]), kind, bt);
        *(sia_vr_u *)(dx + at[v]) = s[v];
    }
}

/* dx (n_in) = Wᵀ dz, times f'(y) (kind, bt) unless kind < 0, for W (n_out, n_in), dz (n_out):
 * VL columns at a time with up to SIA_DX_VECS vectors of sums in the registers over the rows o
 * (dx_block). dW non-NULL: also dW = dz yᵀ, written, when the row is one block (n_in >= VL);
 * returns whether it was. */
SIA_INLINE int FN(dx_row)(REAL *dx, REAL *dW, const REAL *dz, const REAL *y, const REAL *W,
                          int64_t n_in, int64_t n_out, int kind, REAL bt) {
    if (n_in < SIA_VL) {
        sia_vr s = {0};
        for (int64_t o = 0; o < n_out; o++) s += dz[o] * FN(vload_part)(W + o * n_in, n_in);
        if (kind >= 0) s *= FN(vact_grad)(FN(vload_part)(y, n_in), kind, bt);
        FN(vstore_part)(dx, s, n_in);
        return 0;
    }
    const int64_t nvec = (n_in + SIA_VL - 1) / SIA_VL;
    if (nvec > SIA_DX_VECS) dW = NULL;
    for (int64_t j0 = 0; j0 < nvec; j0 += SIA_DX_VECS) {
        const REAL *const w = W + j0 * SIA_VL, *const yj = y + j0 * SIA_VL;
        REAL *const d = dx + j0 * SIA_VL;
        const int64_t left = n_in - j0 * SIA_VL; /* columns from this block on */
        /* a constant count, so that s stays in registers */
#define SIA_DX_CASE(nv) case nv: FN(dx_block)(d, dW, dz, yj, w, n_in, n_out, left, nv, kind, bt); break
        switch (nvec - j0 < SIA_DX_VECS ? nvec - j0 : SIA_DX_VECS) {
        SIA_DX_CASE(1); SIA_DX_CASE(2); SIA_DX_CASE(3); SIA_DX_CASE(4); SIA_DX_CASE(5);
        SIA_DX_CASE(6); SIA_DX_CASE(7); SIA_DX_CASE(8); default: SIA_DX_CASE(9);
        }
#undef SIA_DX_CASE
    }
    return dW != NULL;
}

/* Forward was z = W x + b for one row x (n_in), so with dz (n_out):
 *   dx = Wᵀ dz, times f'(y) of the layer below (kind, beta, its output y = x) unless kind < 0;
 *   dW[o, :] = dz[o] x and db = dz, written, or added when accumulate (a rank-1 update).
 * dx (n_in) is written (dx_row), the last vector the one ending at n_in (same values where it
 * overlaps); dx NULL: skipped. When it is written, dW is too, in the same pass (dx_row), unless
 * accumulate or the row is too short or too long for it. */
SIA_CLONES
static void FN(dense_backward_row)(REAL *dx, REAL *dW, REAL *db, const REAL *dz, const REAL *x,
                                   const REAL *W, int64_t n_in, int64_t n_out, int accumulate,
                                   int kind, double beta) {
    if (dx && FN(dx_row)(dx, accumulate ? NULL : dW, dz, x, W, n_in, n_out, kind, (REAL)beta)) {
        /* dW written with dx */
    } else if (n_in >= SIA_VL) {
        const sia_vr xt = gemm_tail_x(x, n_in), xl = *(const sia_vr_u *)(x + n_in - SIA_VL);
        for (int64_t o = 0; o < n_out; o++) {
            REAL *dw = dW + o * n_in;
            const REAL d = dz[o];
            int64_t k = 0;
            if (accumulate) {
                for (; k + SIA_VL <= n_in; k += SIA_VL) *(sia_vr_u *)(dw + k) += d * *(const sia_vr_u *)(x + k);
                if (k < n_in) *(sia_vr_u *)(dw + n_in - SIA_VL) += d * xt;
            } else {
                for (; k + SIA_VL <= n_in; k += SIA_VL) *(sia_vr_u *)(dw + k) = d * *(const sia_vr_u *)(x + k);
                if (k < n_in) *(sia_vr_u *)(dw + n_in - SIA_VL) = d * xl;
            }
        }
    } else {
        for (int64_t o = 0; o < n_out; o++)
            for (int64_t k = 0; k < n_in; k++)
                dW[o * n_in + k] = accumulate ? dW[o * n_in + k] + dz[o] * x[k] : dz[o] * x[k];
    }
    for (int64_t o = 0; o < n_out; o++) db[o] = accumulate ? db[o] + dz[o] : dz[o];
}

/* z (B, n) += b (n): the bias of a layer whose product gemm wrote. Row by row, VL columns at a
 * time; the last vector of a row is the one ending at n, loaded before the row is stored so
 * that its overlap stores the same values again. */
SIA_CLONES
static void FN(add_bias_rows)(REAL *z, const REAL *b, int64_t B, int64_t n) {
    if (n < SIA_VL) {
        for (int64_t r = 0; r < B; r++, z += n)
            for (int64_t j = 0; j < n; j++) z[j] += b[j];
        return;
    }
    const sia_vr bl = *(const sia_vr_u *)(b + n - SIA_VL);
    for (int64_t r = 0; r < B; r++, z += n) {
        const sia_vr zl = *(const sia_vr_u *)(z + n - SIA_VL) + bl;
        for (int64_t j = 0; j + SIA_VL <= n; j += SIA_VL)
            *(sia_vr_u *)(z + j) += *(const sia_vr_u *)(b + j);
        *(sia_vr_u *)(z + n - SIA_VL) = zl;
    }
}

/* db (n) = [db +] Σ_r dz[r, :] over the B rows of dz (B, n): the columns' sums in the registers,
 * VL at a time, added over r in order; the last vector ends at n (computed first, from the
 * db before any store, so that its overlap stores the same values). */
SIA_CLONES
static void FN(col_sums)(REAL *db, const REAL *dz, int64_t B, int64_t n, int accumulate) {
    if (n < SIA_VL) {
        for (int64_t o = 0; o < n; o++) {
            REAL s = 0;
            for (int64_t r = 0; r < B; r++) s += dz[r * n + o];
            db[o] = accumulate ? db[o] + s : s;
        }
        return;
    }
    sia_vr sl = {0};
    for (int64_t r = 0; r < B; r++) sl += *(const sia_vr_u *)(dz + r * n + n - SIA_VL);
    if (accumulate) sl += *(const sia_vr_u *)(db + n - SIA_VL);
    int64_t j = 0;
    for (; j + 4 * SIA_VL <= n; j += 4 * SIA_VL) {
        sia_vr s[4] = {{0}};
        for (int64_t r = 0; r < B; r++)
            for (int v = 0; v < 4; v++) s[v] += *(const sia_vr_u *)(dz + r * n + j + v * SIA_VL);
        for (int v = 0; v < 4; v++) {
            sia_vr_u *d = (sia_vr_u *)(db + j + v * SIA_VL);
            if (accumulate) *d += s[v];
            else *d = s[v];
        }
    }
    for (; j + SIA_VL <= n; j += SIA_VL) {
        sia_vr s = {0};
        for (int64_t r = 0; r < B; r++) s += *(const sia_vr_u *)(dz + r * n + j);
        sia_vr_u *d = (sia_vr_u *)(db + j);
        if (accumulate) *d += s;
        else *d = s;
    }
    if (n % SIA_VL) *(sia_vr_u *)(db + n - SIA_VL) = sl;
}

/* ---- the kinds' table entries (sia_kernels.h) ---- */

static int64_t FN(dense_scratch)(const sia_layer *l, int64_t B) { return 0; }

/* in (B, n_in), W (n_out, n_in) then b (n_out), z (B, n_out): z = in Wᵀ + b, the bias added
   after the product (as the rows of sia_dense_forward, in another order of the sums' terms). */
static void FN(dense_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                              const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
    FN(sia_gemm)(z, in, W, B, n_out, n_in, 0, 1, 0, nthreads);
    FN(add_bias_rows)(z, W + n_out * n_in, B, n_out);
}

/* Forward was z = in Wᵀ + b, so dW = dzᵀ in (n_out, n_in), db = Σ_r dz[r, :], din = dz W. */
static void FN(dense_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                               const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                               int64_t B, REAL *scratch, int accumulate, int nthreads) {
    const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
    FN(sia_gemm)(dW, dz, in, n_out, n_in, B, 1, 0, accumulate, nthreads);
    FN(col_sums)(dW + n_out * n_in, dz, B, n_out, accumulate);
    if (din) FN(sia_gemm)(din, dz, W, B, n_in, n_out, 0, 0, 0, nthreads);
}

/* in (B, n_in), W' (n_in, n_out) the shared W (params + l->tied), b (n_out) at params + l->off,
   that is at W' + (l->off - l->tied): z = in W' + b. */
static void FN(dense_t_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                                const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
    FN(sia_gemm)(z, in, W, B, n_out, n_in, 0, 0, 0, nthreads);
    FN(add_bias_rows)(z, W + (l->off - l->tied), B, n_out);
}

/* Forward was z = in W' + b, so dW' = inᵀ dz (n_in, n_out) into the shared W's gradient,
   db = Σ_r dz[r, :] at dW + (l->off - l->tied), din = dz W'ᵀ. */
static void FN(dense_t_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                                 const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                                 int64_t B, REAL *scratch, int accumulate, int nthreads) {
    const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
    FN(sia_gemm)(dW, in, dz, n_in, n_out, B, 1, 0, accumulate, nthreads);
    FN(col_sums)(dW + (l->off - l->tied), dz, B, n_out, accumulate);
    if (din) FN(sia_gemm)(din, dz, W, B, n_in, n_out, 0, 1, 0, nthreads);
}
