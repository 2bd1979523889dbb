/* net.c (template, see real.h): a stack of dense layers over borrowed buffers.
 * Layer l (1..L) maps a[l-1] (B, n_{l-1}) to z[l] = a[l-1] W_lᵀ + b_l and a[l] = f_l(z[l]). */

int FN(sia_acts_alloc)(FN(sia_acts) *A, const int64_t *sizes, int64_t L, int64_t cap) {
    /* One block: the pointer tables, then a[0], z[1], a[1], ..., z[L], a[L], dA, dZ, t. */
    int64_t maxw = 0, count = 0, rows;
    for (int64_t l = 0; l <= L; l++) {
        if (sizes[l] > maxw) maxw = sizes[l];
        if (!sia_add_ok(count, l == 0 ? sizes[0] : 2 * sizes[l], &count)) return SIA_ENOMEM;
    }
    if (!sia_add_ok(count, 2 * maxw + sizes[L], &count) || !sia_mul_ok(count, cap, &rows) ||
        !sia_mul_ok(rows, (int64_t)sizeof(REAL), &rows))
        return SIA_ENOMEM;
    int64_t table = 2 * (L + 1) * (int64_t)sizeof(REAL *);
    table = (table + 63) / 64 * 64;
    if (!sia_add_ok(rows, table, &rows) || (uint64_t)rows > SIZE_MAX / 2) return SIA_ENOMEM;
    char *block = malloc((size_t)rows);
    if (!block) return SIA_ENOMEM;
    A->cap = cap;
    A->block = block;
    A->a = (REAL **)block;
    A->z = A->a + (L + 1);
    REAL *p = (REAL *)(block + table);
    A->a[0] = p;
    A->z[0] = NULL;
    p += cap * sizes[0];
    for (int64_t l = 1; l <= L; l++) {
        A->z[l] = p;
        p += cap * sizes[l];
        A->a[l] = p;
        p += cap * sizes[l];
    }
    A->dA = p;
    p += cap * maxw;
    A->dZ = p;
    p += cap * maxw;
    A->t = p;
    return SIA_OK;
}

void FN(sia_acts_free)(FN(sia_acts) *A) {
    free(A->block);
    A->block = NULL;
}

REAL *FN(sia_net_W)(const FN(sia_net) *net, int64_t l) {
    int64_t off = 0;
    for (int64_t k = 1; k < l; k++) off += net->sizes[k] * (net->sizes[k - 1] + 1);
    return net->params + off;
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

/* x (n,) *= s: a part's share of its step's mean (train.c, vae.c). */
static void FN(vec_scale)(REAL *x, int64_t n, double s) {
    const REAL r = (REAL)s;
    for (int64_t i = 0; i < n; i++) x[i] *= r;
}

/* dz (n,) = dz · f'(y), in place: the activation's backward for a gradient just written. */
SIA_CLONES
static void FN(act_grad_scale)(REAL *dz, const REAL *y, int64_t n, int kind, double beta) {
    const REAL b = (REAL)beta, b2 = (REAL)(2 * beta);
    switch (kind) {
    case SIA_LOGISTIC:
        for (int64_t i = 0; i < n; i++) dz[i] = dz[i] * (b2 * y[i] * (1 - y[i]));
        break;
    case SIA_TANH:
        for (int64_t i = 0; i < n; i++) dz[i] = dz[i] * (b * (1 - y[i] * y[i]));
        break;
    case SIA_RELU: {
        /* dz · [y > 0] as a multiply (0 · NaN stays NaN, as in the twin), written with explicit
           vectors: left to itself GCC emits a compare and a mispredicted branch per element. */
        const sia_vr zero = {0}, one = zero + 1;
        int64_t i = 0;
        for (; i + SIA_VL <= n; i += SIA_VL) {
            const sia_vi on = *(const sia_vr_u *)(y + i) > zero;   /* all ones where y > 0 */
            *(sia_vr_u *)(dz + i) = *(sia_vr_u *)(dz + i) * (sia_vr)(on & (sia_vi)one);
        }
        for (; i < n; i++) dz[i] = dz[i] * (REAL)(y[i] > 0);
        break;
    }
    case SIA_ELU:
    case SIA_SELU:
        for (int64_t i = 0; i < n; i++) dz[i] = dz[i] * FN(act_grad)(y[i], kind, b);
        break;
    default:
        break;
    }
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

/* sia_net_forward, leaving out the activation of layer l1 (a[l1] unset) when !last_act and
   B > 1. */
static void FN(net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0,
                            int64_t l1, int last_act) {
    REAL *W = FN(sia_net_W)(net, l0 + 1);
    for (int64_t l = l0 + 1; l <= l1; l++) {
        int64_t n_in = net->sizes[l - 1], n_out = net->sizes[l];
        const REAL *b = W + n_out * n_in;
        if (B == 1) {
            FN(dense_act_forward_row)(A->a[l], A->z[l], A->a[l - 1], W, b, n_in, n_out,
                                      net->act[l - 1], net->beta[l - 1]);
        } else {
            /* z = inp Wᵀ + b, as sia_dense_forward, but the bias added after the product */
            FN(sia_gemm)(A->z[l], A->a[l - 1], W, B, n_out, n_in, 0, 1, 0, net->nthreads);
            FN(add_bias_rows)(A->z[l], b, B, n_out);
            if (l < l1 || last_act)
                FN(sia_act_forward)(A->a[l], A->z[l], B * n_out, net->act[l - 1], net->beta[l - 1]);
        }
        W += n_out * (n_in + 1);
    }
}

void FN(sia_net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1) {
    FN(net_forward)(net, A, B, l0, l1, 1);
}

/* The whole forward of B rows already in A->a[0], and the loss (as sia_loss_forward) against
   the targets t (B, n_L). A logistic output under BCE is computed by the loss from z, with the
   exp that its loss takes anyway (loss.c's loss_forward), instead of once more before it. */
static double FN(net_forward_loss)(const FN(sia_net) *net, FN(sia_acts) *A, const REAL *t,
                                   int64_t B, int loss) {
    const int64_t L = net->L, d = net->sizes[L];
    const int kind = net->act[L - 1];
    const double beta = net->beta[L - 1];
    const int fold = B > 1 && loss == SIA_BCE && kind == SIA_LOGISTIC;
    FN(net_forward)(net, A, B, 0, L, !fold);
    return FN(loss_forward)(A->z[L], A->a[L], t, B, d, loss, kind, beta, fold ? A->a[L] : NULL);
}

/* No element of g is NaN or inf: none has all its exponent bits set. One pass, VL lanes at a
   time, OR-ing the lanes' verdicts (no dependency chain through a floating-point sum). */
SIA_CLONES
static int FN(all_finite)(const REAL *g, int64_t n) {
    const sia_vi expo = (sia_vi)((sia_vr){0} + (REAL)INFINITY); /* the exponent bits */
    sia_vi bad = {0};
    int64_t i = 0;
    for (; i + SIA_VL <= n; i += SIA_VL) bad |= ((sia_vi)*(const sia_vr_u *)(g + i) & expo) == expo;
    int any = 0;
    for (int l = 0; l < SIA_VL; l++) any |= bad[l] != 0;
    for (; i < n; i++) any |= !isfinite(g[i]);
    return !any;
}

/* max |v[i]| over v (n,), taken on the bits: with the sign cleared, the order of the bits as
 * integers is that of the values, and NaN's lie above inf's. So the result is NaN if some v[i]
 * is, else inf if some v[i] is, else the largest |v[i]|. Whole vectors, then the one ending
 * at n, as the one-row kernels store them (n < VL: element by element, zero-padded). */
SIA_INLINE REAL FN(max_abs)(const REAL *v, int64_t n) {
    sia_vi m = {0};
    int64_t i = 0;
    for (; i + SIA_VL <= n; i += SIA_VL) {
        const sia_vi a = (sia_vi)FN(vabs)(*(const sia_vr_u *)(v + i));
        m = (sia_vi)FN(vselect)(a > m, (sia_vr)a, (sia_vr)m);
    }
    if (i < n) { /* the vector ending at n, or the n < VL elements zero-padded */
        const sia_vr t = n >= SIA_VL ? (sia_vr) * (const sia_vr_u *)(v + n - SIA_VL) : FN(vload_part)(v, n);
        const sia_vi a = (sia_vi)FN(vabs)(t);
        m = (sia_vi)FN(vselect)(a > m, (sia_vr)a, (sia_vr)m);
    }
    sia_vi lane;
    for (int k = 0; k < SIA_VL; k++) lane[k] = k;
    for (int h = SIA_VL / 2; h >= 1; h /= 2) { /* lanes k and k + h, no branch on the data */
        const sia_vi o = __builtin_shuffle(m, (lane + h) & (SIA_VL - 1));
        m = (sia_vi)FN(vselect)(o > m, (sia_vr)o, (sia_vr)m);
    }
    return ((sia_vr)m)[0];
}

/* Whether the gradient of a one-row layer, dW = dz xᵀ (n_out, n_in) and db = dz, is finite,
 * from its factors alone: n_out + n_in elements instead of n_out (n_in + 1). Rounding is
 * monotone, so with finite factors every |dz[o] x[k]| is at most fl(max|dz| max|x|), itself
 * one of dW's elements: dW is finite iff that product is. A NaN factor makes it NaN, and so
 * does an inf one (inf, or inf · 0 = NaN), as it does to a whole row or column of dW; db = dz. */
SIA_CLONES
static int FN(rank1_finite)(const REAL *dz, const REAL *x, int64_t n_out, int64_t n_in) {
    const REAL top = FN(max_abs)(dz, n_out) * FN(max_abs)(x, n_in); /* in REAL, as dW's products */
    return isfinite(top);
}

/* Whether a batch layer's written gradient, dW = Σ_b dz[b]ᵀ x[b] (n_out, n_in) and
 * db = Σ_b dz[b], is finite, from a bound when reading the factors costs less than reading dW:
 * every partial sum of either is at most B max|dz| max(1, max|x|) (1 + u)^B in magnitude,
 * whatever the order of the sums, and (1 + u)^B < 2 for any chunk. Under half the largest REAL,
 * all are finite. Otherwise (also for a NaN or inf factor, whose max_abs is NaN or inf) the
 * elements themselves are checked. */
SIA_CLONES
static int FN(batch_grad_finite)(const REAL *dW, const REAL *dz, const REAL *x, int64_t B,
                                 int64_t n_out, int64_t n_in) {
    if ((double)B * (double)(n_out + n_in) < (double)n_out * (double)n_in) {
        const double mx = (double)FN(max_abs)(x, B * n_in);
        const double bound = (double)B * (double)FN(max_abs)(dz, B * n_out) * (mx > 1 ? mx : 1);
        if (bound <= 0.5 * (SIA_IS32 ? (double)FLT_MAX : DBL_MAX)) return 1;
    }
    return FN(all_finite)(dW, n_out * (n_in + 1)); /* dW, then db right after it */
}

/* sia_net_backward, with the gradients written instead of accumulated when !accumulate (then
 * the caller need not zero them: every parameter of layers l0+1 .. l1 is written).
 * dL/dz ping-pongs between A->dZ and A->dA: each layer reads one and writes the other.
 * Returns whether every gradient of those layers is finite, each layer's checked right after
 * it is formed, while it is still in L1: a pass over all of them before the optimizer, from
 * L2, was 3% of a digits VAE step. */
static int FN(net_backward)(FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0,
                            int64_t l1, int want_dinp, int accumulate) {
    REAL *dz = A->dZ, *next = A->dA;
    int64_t off = FN(sia_net_W)(net, l1) - net->params;
    int finite = 1;
    for (int64_t l = l1; l > l0; l--) {
        const int64_t n_in = net->sizes[l - 1], n_out = net->sizes[l];
        const REAL *W = net->params + off;
        REAL *dW = net->grads + off, *db = dW + n_out * n_in;
        const int below = l > l0 + 1; /* the layer below is in the stack: it wants dL/dz */
        const int kind = below ? net->act[l - 2] : -1;
        const double beta = below ? net->beta[l - 2] : 0;
        REAL *dx = below || want_dinp ? next : NULL;
        if (B == 1) {
            FN(dense_backward_row)(dx, dW, db, dz, A->a[l - 1], W, n_in, n_out, accumulate, kind, beta);
        } else {
            FN(sia_gemm)(dW, dz, A->a[l - 1], n_out, n_in, B, 1, 0, accumulate, net->nthreads);
            FN(col_sums)(db, dz, B, n_out, accumulate);
            if (dx) {
                FN(sia_gemm)(dx, dz, W, B, n_in, n_out, 0, 0, 0, net->nthreads);
                if (below) FN(act_grad_scale)(dx, A->a[l - 1], B * n_in, kind, beta);
            }
        }
        if (accumulate) /* added to: the sums themselves */
            finite &= FN(all_finite)(dW, n_out * (n_in + 1)); /* dW, then db right after it */
        else if (B == 1) /* dW = dz xᵀ was written */
            finite &= FN(rank1_finite)(dz, A->a[l - 1], n_out, n_in);
        else
            finite &= FN(batch_grad_finite)(dW, dz, A->a[l - 1], B, n_out, n_in);
        if (dx) next = dz, dz = dx;
        if (below) off -= n_in * (net->sizes[l - 2] + 1);
    }
    if (want_dinp && l1 > l0 && dz != A->dA) memcpy(A->dA, dz, (size_t)(B * net->sizes[l0]) * sizeof(REAL));
    return finite;
}

void FN(sia_net_backward)(FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1,
                          int want_dinp) {
    FN(net_backward)(net, A, B, l0, l1, want_dinp, 1);
}

int FN(sia_net_predict)(const FN(sia_net) *net, REAL *out, const REAL *X, int64_t n, int64_t l0,
                        int64_t l1) {
    const int64_t n_in = net->sizes[l0], n_out = net->sizes[l1];
    if (l0 == l1) {
        memcpy(out, X, (size_t)(n * n_in) * sizeof(REAL));
        return SIA_OK;
    }
    FN(sia_acts) A;
    int64_t cap = n < 256 ? (n > 0 ? n : 1) : 256;
    if (FN(sia_acts_alloc)(&A, net->sizes, net->L, cap) != SIA_OK) return SIA_ENOMEM;
    for (int64_t r = 0; r < n; r += cap) {
        int64_t B = n - r < cap ? n - r : cap;
        /* The acts tables are laid out from layer 0; only layers l0..l1 are used here. */
        memcpy(A.a[l0], X + r * n_in, (size_t)(B * n_in) * sizeof(REAL));
        FN(sia_net_forward)(net, &A, B, l0, l1);
        memcpy(out + r * n_out, A.a[l1], (size_t)(B * n_out) * sizeof(REAL));
    }
    FN(sia_acts_free)(&A);
    return SIA_OK;
}

int FN(sia_net_loss_grad)(FN(sia_net) *net, double *loss_out, const REAL *X, const REAL *Y,
                          int64_t n, int loss) {
    const int64_t L = net->L, d_in = net->sizes[0], d_out = net->sizes[L];
    FN(sia_acts) A;
    if (FN(sia_acts_alloc)(&A, net->sizes, L, n > 0 ? n : 1) != SIA_OK) return SIA_ENOMEM;
    memcpy(A.a[0], X, (size_t)(n * d_in) * sizeof(REAL));
    *loss_out = FN(net_forward_loss)(net, &A, Y, n, loss);
    int kind = net->act[L - 1];
    double beta = net->beta[L - 1];
    if (!net->grads) {
        FN(sia_acts_free)(&A);
        return SIA_OK;
    }
    memset(A.dZ, 0, (size_t)(n * d_out) * sizeof(REAL));
    FN(sia_loss_backward)(A.dZ, A.z[L], A.a[L], Y, n, d_out, loss, kind, beta);
    FN(sia_net_backward)(net, &A, n, 0, L, 0);
    FN(sia_acts_free)(&A);
    return SIA_OK;
}

void FN(sia_pixel_errors)(int64_t *errs, const REAL *Y, const REAL *T, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        int64_t e = 0;
        for (int64_t j = 0; j < d; j++) e += (Y[r * d + j] >= (REAL)0.5) != (T[r * d + j] >= (REAL)0.5);
        errs[r] = e;
    }
}
