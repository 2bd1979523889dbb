/* net.c (template, see real.h): the engine. A network is a sequence of layer records
 * (sia.h's sia_layer) over one flat parameter vector; each kind brings its forward and backward
 * (the table below), and this file walks the list.
 *
 *   forward   layer j maps a[j] (B, n_in) to z[j+1] (the kind's forward), then a[j+1] = f(z[j+1])
 *             (its activation; a linear layer's a is its z, a RESHAPE's output is its input)
 *   loss      on the last layer that is not a RESHAPE (the output), as loss.c computes it, plus
 *             w · KL for each SAMPLE layer and the activity penalties of the layers
 *   backward  from the output: dL/da of a layer's output, plus its penalty's gradient, times
 *             f'(a) -> dz; the kind's backward -> dW, db and dL/din, the dL/da of the layer below
 *             (or its dz, when the kind folds that layer's ReLU into din: backward_relu)
 *
 * A dense layer of one row (B = 1) runs through dense.c's fused row kernels (the bias and the
 * activation in the product's pass; in backward, the activation of the dense layer below
 * folded into dx), the batch path through gemm: the same kernels as the dense stack this engine
 * replaced, so dense models are bit-identical to it. */

/* The kinds, by SIA_LAYER_* code. A NULL forward: a kind this build does not have (module.c
   refuses it). Each kind's file adds its line here and nothing else. */
const FN(sia_layer_kind) FN(sia_layer_ops)[SIA_N_LAYER] = {
    [SIA_LAYER_DENSE] = {FN(dense_scratch), FN(dense_forward), FN(dense_backward)},
    [SIA_LAYER_DENSE_T] = {FN(dense_scratch), FN(dense_t_forward), FN(dense_t_backward)},
    [SIA_LAYER_CONV2D] = {FN(sia_conv2d_scratch), FN(sia_conv2d_forward), FN(sia_conv2d_backward),
                          FN(sia_conv_fuses_act), FN(sia_conv_fuses_grad), FN(sia_conv_backward_relu)},
    [SIA_LAYER_CONV2D_T] = {FN(sia_conv2d_t_scratch), FN(sia_conv2d_t_forward), FN(sia_conv2d_t_backward),
                            FN(sia_conv_fuses_act), FN(sia_conv_fuses_grad), FN(sia_conv_backward_relu)},
    [SIA_LAYER_MAXPOOL] = {FN(sia_pool_scratch), FN(sia_pool_forward), FN(sia_pool_backward),
                           .backward_relu = FN(sia_pool_backward_relu)},
    [SIA_LAYER_AVGPOOL] = {FN(sia_pool_scratch), FN(sia_pool_forward), FN(sia_pool_backward)},
    [SIA_LAYER_GAP] = {FN(sia_pool_scratch), FN(sia_pool_forward), FN(sia_pool_backward)},
    [SIA_LAYER_UPSAMPLE] = {FN(sia_pool_scratch), FN(sia_pool_forward), FN(sia_pool_backward),
                            .backward_relu = FN(sia_pool_backward_relu)},
    [SIA_LAYER_RESHAPE] = {NULL, NULL, NULL}, /* no function: the engine aliases its buffers */
    [SIA_LAYER_DROPOUT] = {FN(elementwise_scratch), FN(dropout_forward), FN(dropout_backward)},
    [SIA_LAYER_GNOISE] = {FN(elementwise_scratch), FN(gnoise_forward), FN(gnoise_backward)},
    [SIA_LAYER_SAMPLE] = {FN(sample_scratch), FN(sample_forward), FN(sample_backward)},
};

/* The output layer: the last that is not a RESHAPE (module.c checks that there is one). */
static int64_t FN(net_out)(const FN(sia_net) *net) {
    int64_t j = net->L - 1;
    while (j > 0 && net->layers[j].kind == SIA_LAYER_RESHAPE) j--;
    return j;
}

/* Whether layer l's kind applies its activation itself in forward (sia_layer_kind.fuses_act),
   and its derivative in backward (fuses_grad). */
static int FN(fuses_act)(const sia_layer *l) {
    int (*const fuses)(const sia_layer *) = FN(sia_layer_ops)[l->kind].fuses_act;
    return fuses && fuses(l);
}
static int FN(fuses_grad)(const sia_layer *l) {
    int (*const fuses)(const sia_layer *) = FN(sia_layer_ops)[l->kind].fuses_grad;
    return fuses && fuses(l);
}

/* Whether layer l's a is a buffer of its own: it has an activation that its kind does not
   apply itself. */
static int FN(own_a)(const sia_layer *l) { return l->act != SIA_LINEAR && !FN(fuses_act)(l); }

/* Where layer j's W is: its own, or the one it shares (DENSE_T); NULL without parameters. */
static int64_t FN(w_off)(const sia_layer *l) {
    return l->kind == SIA_LAYER_DENSE_T ? l->tied : l->off;
}

/* A block of activations: a large one (a conv net's, tens of MB) aligned to 2 MB and offered
   to the kernel's transparent huge pages where it has them (Linux's "madvise" mode), which
   makes its first touch 512 times fewer page faults and its passes far fewer TLB misses. */
enum { ACTS_HUGE = 4 << 20, ACTS_PAGE = 2 << 20 };
static void *FN(acts_block)(size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (bytes >= ACTS_HUGE) {
        const size_t size = (bytes + ACTS_PAGE - 1) / ACTS_PAGE * ACTS_PAGE; /* whole huge pages */
        void *p = NULL;
        if (posix_memalign(&p, ACTS_PAGE, size) != 0) return NULL;
        madvise(p, size, MADV_HUGEPAGE); /* a hint: failure is harmless */
        return p;
    }
#endif
    return malloc(bytes);
}

/* Rows of a chunk of layers l0 .. l1-1 (predict's, or a training step's): as many as keep
   their activations (each layer's z, and its a where it has its own) within `bytes`, at least
   ACTS_MIN_ROWS and at most `most`. A conv net's activations are large (D's 0.5 MB a row in
   float32): 128 rows of them overflow the caches between the forward pass that writes them
   and the backward pass that reads them back, 16 do far less (a fit of D on 2,560 images,
   1 thread, steps of 128 rows in chunks of 128, 32 and 16: 0.73, 0.67 and 0.64 s; E 0.235,
   0.23 and 0.21 s). Dense networks keep chunks of SIA_STEP_ROWS. */
enum { ACTS_CHUNK_BYTES = 8 << 20, ACTS_MIN_ROWS = 16 };
static int64_t FN(acts_rows)(const FN(sia_net) *net, int64_t l0, int64_t l1, int64_t bytes, int64_t most) {
    int64_t row = 0;
    for (int64_t j = l0; j < l1; j++)
        row += (FN(own_a)(&net->layers[j]) ? 2 : 1) * sia_layer_n_out(&net->layers[j]);
    const int64_t rows = bytes / ((row > 0 ? row : 1) * (int64_t)sizeof(REAL));
    return rows < ACTS_MIN_ROWS ? ACTS_MIN_ROWS : rows > most ? most : rows;
}

int FN(sia_acts_alloc)(FN(sia_acts) *A, const FN(sia_net) *net, int64_t cap) {
    /* One block: the pointer tables, then a[0], each layer's z (and a unless linear), dA, dZ,
       t, the scratch. */
    const int64_t L = net->L;
    int64_t maxw = sia_layer_n_in(&net->layers[0]), count = maxw, scratch = 0, rows;
    for (int64_t j = 0; j < L; j++) {
        const sia_layer *l = &net->layers[j];
        const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
        if (n_in > maxw) maxw = n_in;
        if (n_out > maxw) maxw = n_out;
        if (l->kind == SIA_LAYER_RESHAPE) continue;
        if (!sia_add_ok(count, FN(own_a)(l) ? 2 * n_out : n_out, &count)) return SIA_ENOMEM;
        const int64_t s = FN(sia_layer_ops)[l->kind].scratch(l, cap);
        if (s < 0) return SIA_ENOMEM;
        if (s > scratch) scratch = s;
    }
    if (!sia_add_ok(count, 2 * maxw + sia_layer_n_out(&net->layers[L - 1]), &count) ||
        !sia_mul_ok(count, cap, &rows) || !sia_add_ok(rows, scratch, &rows) ||
        !sia_mul_ok(rows, (int64_t)sizeof(REAL), &rows))
        return SIA_ENOMEM;
    int64_t table = (3 * L + 2) * (int64_t)sizeof(REAL *);
    table = (table + 63) / 64 * 64;
    if (!sia_add_ok(rows, table, &rows) || (uint64_t)rows > SIZE_MAX / 2) return SIA_ENOMEM;
    char *block = FN(acts_block)((size_t)rows);
    if (!block) return SIA_ENOMEM;
    A->cap = cap;
    A->block = block;
    A->a = (REAL **)block;
    A->z = A->a + (L + 1);
    A->noise = (const REAL **)(A->z + (L + 1));
    REAL *p = (REAL *)(block + table);
    A->a[0] = p;
    A->z[0] = NULL;
    p += cap * sia_layer_n_in(&net->layers[0]);
    for (int64_t j = 0; j < L; j++) {
        const sia_layer *l = &net->layers[j];
        const int64_t n_out = sia_layer_n_out(l);
        A->noise[j] = NULL;
        if (l->kind == SIA_LAYER_RESHAPE) { /* the same buffer (re-aliased by each forward) */
            A->z[j + 1] = A->a[j + 1] = A->a[j];
            continue;
        }
        A->z[j + 1] = p;
        p += cap * n_out;
        if (!FN(own_a)(l)) A->a[j + 1] = A->z[j + 1]; /* linear, or its kind applies f itself */
        else A->a[j + 1] = p, p += cap * n_out;
    }
    A->dA = p;
    p += cap * maxw;
    A->dZ = p;
    p += cap * maxw;
    A->t = p;
    p += cap * sia_layer_n_out(&net->layers[L - 1]);
    A->scratch = p;
    return SIA_OK;
}

void FN(sia_acts_free)(FN(sia_acts) *A) {
    free(A->block);
    A->block = NULL;
}

double FN(sia_net_widest)(const FN(sia_net) *net) {
    double w = 0;
    for (int64_t j = 0; j < net->L; j++) {
        const sia_layer *l = &net->layers[j];
        const double n_in = (double)sia_layer_n_in(l), n_out = (double)sia_layer_n_out(l);
        /* Only the dense layers' products: gemm threads them itself when they are large.
           Convolutions split their batch into samples, the same cut as the step's parts, which
           also run the activations, pools and loss in parallel and meet once a step. */
        const double x = l->kind == SIA_LAYER_DENSE || l->kind == SIA_LAYER_DENSE_T ? n_in * n_out : 0;
        if (x > w) w = x;
    }
    return w;
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


/* ---- activity penalties (sia.h's SIA_REG_*) on a layer's output a (B, n) ---- */

/* ρ̂ of the KL penalty, kept inside (0, 1) so that its logs are finite. */
static double FN(rho_clamp)(double r) {
    return r < SIA_BCE_EPS ? SIA_BCE_EPS : (r > 1 - SIA_BCE_EPS ? 1 - SIA_BCE_EPS : r);
}

/* The penalty of B rows: L1 λ (1/B) Σ |a|, L2 λ (1/B) Σ a², KL w Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the
   mean of column j over the B rows. */
static double FN(reg_forward)(const sia_layer *l, const REAL *a, int64_t B) {
    const int64_t n = sia_layer_n_out(l);
    double s = 0;
    if (l->reg == SIA_REG_L1 || l->reg == SIA_REG_L2) {
        for (int64_t i = 0; i < B * n; i++) s += l->reg == SIA_REG_L1 ? fabs((double)a[i]) : (double)a[i] * a[i];
        return l->reg_a * s / (double)B;
    }
    const double rho = l->reg_b;
    for (int64_t j = 0; j < n; j++) {
        double m = 0;
        for (int64_t r = 0; r < B; r++) m += a[r * n + j];
        m = FN(rho_clamp)(m / (double)B);
        s += rho * log(rho / m) + (1 - rho) * log((1 - rho) / (1 - m));
    }
    return l->reg_a * s;
}

/* da (B, n) += share · d(penalty)/da: L1 λ sign(a)/B, L2 2λ a/B,
   KL w (−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j))/B. */
static void FN(reg_backward)(const sia_layer *l, REAL *da, const REAL *a, int64_t B, double share) {
    const int64_t n = sia_layer_n_out(l);
    const double g = share * l->reg_a / (double)B;
    if (l->reg == SIA_REG_L1)
        for (int64_t i = 0; i < B * n; i++) da[i] += (REAL)(g * (double)((a[i] > 0) - (a[i] < 0)));
    else if (l->reg == SIA_REG_L2)
        for (int64_t i = 0; i < B * n; i++) da[i] += (REAL)(2 * g * (double)a[i]);
    else {
        const double rho = l->reg_b;
        for (int64_t j = 0; j < n; j++) {
            double m = 0;
            for (int64_t r = 0; r < B; r++) m += a[r * n + j];
            m = FN(rho_clamp)(m / (double)B);
            const REAL d = (REAL)(g * (-rho / m + (1 - rho) / (1 - m)));
            for (int64_t r = 0; r < B; r++) da[r * n + j] += d;
        }
    }
}

/* ---- forward ---- */

/* Layers l0 .. l1-1 over B rows; the activation of the output layer (net_out) left out (its a
   unset) when !last_act and B > 1 (the loss computes it, see net_forward_loss). */
static void FN(net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0,
                            int64_t l1, int last_act) {
    const int64_t out = FN(net_out)(net);
    for (int64_t j = l0; j < l1; j++) {
        const sia_layer *l = &net->layers[j];
        if (l->kind == SIA_LAYER_RESHAPE) {
            A->z[j + 1] = A->a[j + 1] = A->a[j];
            continue;
        }
        const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
        const REAL *W = l->off >= 0 ? net->params + FN(w_off)(l) : NULL;
        if (l->kind == SIA_LAYER_DENSE && B == 1) {
            FN(dense_act_forward_row)(A->a[j + 1], A->z[j + 1], A->a[j], W, W + n_out * n_in, n_in,
                                      n_out, l->act, l->beta);
        } else {
            FN(sia_layer_ops)[l->kind].forward(l, A->z[j + 1], A->a[j], W, A->noise[j], B, A->scratch,
                                               net->nthreads);
            if (FN(own_a)(l) && (j != out || last_act))
                FN(sia_act_forward)(A->a[j + 1], A->z[j + 1], B * n_out, l->act, l->beta);
        }
    }
}

void FN(sia_net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1) {
    FN(net_forward)(net, A, B, l0, l1, 1);
}

/* The whole forward of B rows already in A->a[0], and the loss against the targets t (B, n):
   out = {total, reconstruction, KL, penalties}, total = recon + w KL + penalties. A logistic
   output under BCE is computed by the loss from z, with the exp that its loss takes anyway
   (loss.c's loss_forward), instead of once more before it. */
static void FN(net_forward_loss)(const FN(sia_net) *net, FN(sia_acts) *A, const REAL *t, int64_t B,
                                 int loss, double w, double out[4]) {
    const int64_t o = FN(net_out)(net);
    const sia_layer *lo = &net->layers[o];
    const int fold = B > 1 && sia_loss_kind(loss) == SIA_BCE && lo->act == SIA_LOGISTIC;
    FN(net_forward)(net, A, B, 0, net->L, !fold);
    out[1] = FN(loss_forward)(A->z[o + 1], A->a[o + 1], t, B, sia_layer_n_out(lo), loss, lo->act,
                              lo->beta, fold ? A->a[o + 1] : NULL);
    out[0] = out[1];
    out[2] = out[3] = 0;
    int kl = 0, reg = 0;
    for (int64_t j = 0; j < net->L; j++) {
        const sia_layer *l = &net->layers[j];
        if (l->kind == SIA_LAYER_SAMPLE) out[2] += FN(sia_kl_forward)(A->a[j], B, sia_layer_n_out(l)), kl = 1;
        if (l->reg != SIA_REG_NONE) out[3] += FN(reg_forward)(l, A->a[j + 1], B), reg = 1;
    }
    if (kl) out[0] += w * out[2];
    if (reg) out[0] += out[3];
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


/* ---- backward ---- */

/* Whether layer j's W gradient is written already when backward reaches it: a layer after it
   (visited before it) shares that W (tied weights). */
static int FN(w_shared_later)(const FN(sia_net) *net, int64_t j) {
    const int64_t off = FN(w_off)(&net->layers[j]);
    for (int64_t i = j + 1; i < net->L; i++)
        if (net->layers[i].off >= 0 && FN(w_off)(&net->layers[i]) == off) return 1;
    return 0;
}

/* On entry A->dZ holds dL/dz of the output layer (B, n), the loss's gradient with the output
 * activation folded in. Writes the gradients of every layer (or adds them when accumulate: then
 * the caller zeroes them first), share the weight of these rows' mean in the step's loss (the KL
 * and penalties take it here; the loss's gradient has it already), w the KL weight.
 * dL/dz ping-pongs between A->dZ and A->dA: each layer reads one and writes the other (a
 * RESHAPE passes it on). Returns whether every gradient is finite, each layer's checked right
 * after it is formed, while it is still in L1: a pass over all of them before the optimizer,
 * from L2, was 3% of a digits VAE step. */
static int FN(net_backward)(FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int accumulate,
                            double w, double share) {
    REAL *dz = A->dZ, *next = A->dA;
    const int64_t out = FN(net_out)(net);
    int finite = 1, pending = 0; /* pending: dz holds dL/da, f'(a) still to apply */
    int64_t lowest = 0;          /* the first layer that is not a RESHAPE: it needs no din */
    while (net->layers[lowest].kind == SIA_LAYER_RESHAPE) lowest++;
    for (int64_t j = out; j >= lowest; j--) {
        const sia_layer *l = &net->layers[j];
        if (l->kind == SIA_LAYER_RESHAPE) continue; /* dz passes through, still dL/da */
        const int64_t n_in = sia_layer_n_in(l), n_out = sia_layer_n_out(l);
        if (l->reg != SIA_REG_NONE) {
            if (pending) FN(reg_backward)(l, dz, A->a[j + 1], B, share);
            else { /* the output layer: dz already has f' folded in; add the penalty's f' · dR/da */
                memset(next, 0, (size_t)(B * n_out) * sizeof(REAL));
                FN(reg_backward)(l, next, A->a[j + 1], B, share);
                FN(act_grad_scale)(next, A->a[j + 1], B * n_out, l->act, l->beta);
                for (int64_t i = 0; i < B * n_out; i++) dz[i] += next[i];
            }
        }
        /* a kind that applies f' itself does so from its z, which it gets only while f' is
           still to apply (dz is dL/da); else (NULL) dz has f' in it already */
        const int own_grad = FN(fuses_grad)(l);
        const REAL *zb = own_grad && !pending ? NULL : A->z[j + 1];
        if (pending && !own_grad) FN(act_grad_scale)(dz, A->a[j + 1], B * n_out, l->act, l->beta);
        /* the layer below, if there is one (across RESHAPEs), wants dL/da of its output */
        const int64_t below = j - 1;
        const int want_din = j > lowest;
        /* its ReLU, without a penalty, folded into din when the kind can (backward_relu): no
           pass of its own over din (the layer below's a is this one's input, A->a[j]) */
        int64_t under = below;
        while (want_din && net->layers[under].kind == SIA_LAYER_RESHAPE) under--;
        const FN(sia_layer_kind) *ops = &FN(sia_layer_ops)[l->kind];
        const int relu_under = want_din && ops->backward_relu && net->layers[under].act == SIA_RELU &&
                               net->layers[under].reg == SIA_REG_NONE;
        /* one dense row folds the activation of a layer right below it into dx */
        const int fuse = B == 1 && l->kind == SIA_LAYER_DENSE && want_din &&
                         net->layers[below].kind != SIA_LAYER_RESHAPE &&
                         net->layers[below].reg == SIA_REG_NONE;
        REAL *din = want_din ? next : NULL;
        int folded = 0; /* the kind's backward applied the ReLU of the layer below */
        if (l->off >= 0) {
            const int tied = l->kind == SIA_LAYER_DENSE_T;
            const int64_t woff = FN(w_off)(l);
            const REAL *W = net->params + woff;
            /* a dense layer's db follows its W; a tied layer's is its own, at its offset */
            REAL *dW = net->grads + woff, *db = tied ? net->grads + l->off : dW + n_out * n_in;
            int acc = accumulate;
            if (!acc && FN(w_shared_later)(net, j)) { /* a tied layer wrote W's gradient: add */
                memset(db, 0, (size_t)n_out * sizeof(REAL));
                acc = 1;
            }
            if (l->kind == SIA_LAYER_DENSE && B == 1)
                FN(dense_backward_row)(din, dW, db, dz, A->a[j], W, n_in, n_out, acc,
                                       fuse ? net->layers[below].act : -1,
                                       fuse ? net->layers[below].beta : 0);
            else if (!(folded = relu_under && ops->backward_relu(l, din, dW, dz, A->a[j], zb, W, A->noise[j],
                                                                  B, A->scratch, acc, net->nthreads)))
                ops->backward(l, din, dW, dz, A->a[j], zb, W, A->noise[j], B, A->scratch, acc, net->nthreads);
            if (l->kind == SIA_LAYER_DENSE && !acc && B == 1) /* dW = dz xᵀ was written */
                finite &= FN(rank1_finite)(dz, A->a[j], n_out, n_in);
            else if (l->kind == SIA_LAYER_DENSE && !acc)
                finite &= FN(batch_grad_finite)(dW, dz, A->a[j], B, n_out, n_in);
            else if (tied) /* the shared W's sums, and b */
                finite &= FN(all_finite)(dW, n_in * n_out) & FN(all_finite)(db, n_out);
            else /* the sums themselves: W, then b right after it */
                finite &= FN(all_finite)(dW, l->n_params);
        } else {
            folded = relu_under && ops->backward_relu(l, din, NULL, dz, A->a[j], A->z[j + 1], NULL,
                                                      A->noise[j], B, A->scratch, accumulate, net->nthreads);
            if (!folded)
                ops->backward(l, din, NULL, dz, A->a[j], A->z[j + 1], NULL, A->noise[j], B, A->scratch,
                              accumulate, net->nthreads);
        }
        if (l->kind == SIA_LAYER_SAMPLE && din) FN(sia_kl_backward)(din, A->a[j], B, n_out, w * share);
        if (din) next = dz, dz = din, pending = !fuse && !folded;
    }
    return finite;
}

/* B rows, inputs A->a[0] and targets t (B, n), through forward, loss and backward: the gradient
   of share · (their mean loss) written into net's grads, or added when accumulate. out: their
   loss terms (net_forward_loss). Returns whether the loss and every gradient are finite
   (backward is skipped when the loss is not, unless always). */
static int FN(rows_grad)(FN(sia_net) *net, FN(sia_acts) *A, const REAL *t, int64_t B, int loss,
                         double w, double share, int accumulate, int always, double out[4]) {
    const int64_t o = FN(net_out)(net);
    const sia_layer *lo = &net->layers[o];
    FN(net_forward_loss)(net, A, t, B, loss, w, out);
    if (!isfinite(out[0]) && !always) return 0;
    FN(loss_backward_write)(A->dZ, A->a[o + 1], t, B, sia_layer_n_out(lo), loss, lo->act, lo->beta);
    if (share != 1) FN(vec_scale)(A->dZ, B * sia_layer_n_out(lo), share);
    return FN(net_backward)(net, A, B, accumulate, w, share) && isfinite(out[0]);
}

int FN(sia_net_predict)(const FN(sia_net) *net, REAL *out, const REAL *X, int64_t n, int64_t l0,
                        int64_t l1) {
    const int64_t n_in = l0 < net->L ? sia_layer_n_in(&net->layers[l0]) : sia_layer_n_out(&net->layers[l0 - 1]);
    if (l0 == l1) {
        memcpy(out, X, (size_t)(n * n_in) * sizeof(REAL));
        return SIA_OK;
    }
    const int64_t n_out = sia_layer_n_out(&net->layers[l1 - 1]);
    /* Rows at a time: up to 256, as few as keep the activations of layers l0 .. l1-1 within
       ACTS_CHUNK_BYTES. A wide network's (a conv net's) activations for 256 rows are a block of
       tens of MB, which malloc maps afresh, and the page faults of its first touch would cost
       more than the forward pass itself; a smaller block is reused from call to call. Each row's
       outputs do not depend on the rows beside it. */
    const int64_t cap0 = FN(acts_rows)(net, l0, l1, ACTS_CHUNK_BYTES, 256);
    const int64_t cap = n < cap0 ? (n > 0 ? n : 1) : cap0;
    FN(sia_acts) A;
    if (FN(sia_acts_alloc)(&A, net, cap) != SIA_OK) return SIA_ENOMEM;
    for (int64_t r = 0; r < n; r += cap) {
        int64_t B = n - r < cap ? n - r : cap;
        /* The acts tables are laid out from layer 0; only layers l0 .. l1-1 are used here. */
        memcpy(A.a[l0], X + r * n_in, (size_t)(B * n_in) * sizeof(REAL));
        FN(sia_net_forward)(net, &A, B, l0, l1);
        memcpy(out + r * n_out, A.a[l1], (size_t)(B * n_out) * sizeof(REAL));
    }
    FN(sia_acts_free)(&A);
    return SIA_OK;
}

int FN(sia_net_loss_grad)(FN(sia_net) *net, double out[4], const REAL *X, const REAL *Y,
                          const REAL *noise, int64_t n, int loss, double kl_weight) {
    FN(sia_acts) A;
    if (FN(sia_acts_alloc)(&A, net, n > 0 ? n : 1) != SIA_OK) return SIA_ENOMEM;
    memcpy(A.a[0], X, (size_t)(n * sia_layer_n_in(&net->layers[0])) * sizeof(REAL));
    for (int64_t j = 0; j < net->L; j++) {
        const int64_t k = sia_layer_n_noise(&net->layers[j]);
        A.noise[j] = noise && k ? noise : NULL;
        if (noise) noise += n * k;
    }
    if (net->grads) FN(rows_grad)(net, &A, Y, n, loss, kl_weight, 1, 1, 1, out);
    else FN(net_forward_loss)(net, &A, Y, n, loss, kl_weight, out);
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