/* pooling.c (template, see real.h): MaxPool2D, AveragePooling2D, GlobalAveragePooling2D and
 * UpSampling2D (nearest), channels last, no parameters.
 *
 * Shapes (sia_layer, sia.h): in (B, ih, iw, c), z (B, oh, ow, c).
 *   MaxPool2D, AveragePooling2D: window (kh, kw), strides (sh, sw); window (i, j) covers the input
 *     rows i·sh − pad_t .. + kh and columns j·sw − pad_l .. + kw that lie inside the input ("same"
 *     padding never makes a window empty). Max: the largest value; average: the mean over the
 *     cells inside the input only, as Keras.
 *   GlobalAveragePooling2D: z (B, c) = the mean over the ih · iw pixels.
 *   UpSampling2D: z[y, x] = in[y / kh, x / kw], oh = ih · kh, ow = iw · kw.
 * The channels are the inner loops, over contiguous memory. Backward writes din (never adds).
 * The batch runs as up to SIA_LAYER_TASKS tasks of whole samples, which share nothing. */

typedef struct {
    const sia_layer *l;
    REAL *out;
    const REAL *in, *dz;
    int64_t B, ntasks;
    int backward, relu; /* relu: din *= [in > 0], the ReLU of the layer below folded in */
} FN(pool_job);

/* Rows [*a, *b) and columns [*c, *d) of the input inside window (i, j). */
static void FN(pool_window)(const sia_layer *l, int64_t i, int64_t j, int64_t *a, int64_t *b,
                            int64_t *c, int64_t *d) {
    const int64_t y0 = i * l->sh - l->pad_t, x0 = j * l->sw - l->pad_l;
    *a = y0 > 0 ? y0 : 0;
    *b = y0 + l->kh < l->in_h ? y0 + l->kh : l->in_h;
    *c = x0 > 0 ? x0 : 0;
    *d = x0 + l->kw < l->in_w ? x0 + l->kw : l->in_w;
}

/* Max pooling's backward for one window, rows [a, b) and columns [c, d): dz goes to the first
 * cell holding the window's maximum, in (row, column) order (as PyTorch and TensorFlow route
 * it), found for POOL_LANES channels at a time with the cells outer, so that the channels,
 * contiguous, are the vector lanes. */
enum { POOL_LANES = 64 };
GEMM_INLINE void FN(maxpool_window_backward)(REAL *restrict din, const REAL *restrict in,
                                        const REAL *restrict dz, int64_t C, int64_t iw,
                                        int64_t a, int64_t b, int64_t c, int64_t d) {
    for (int64_t t0 = 0; t0 < C; t0 += POOL_LANES) {
        const int64_t n = C - t0 < POOL_LANES ? C - t0 : POOL_LANES, first = (a * iw + c) * C + t0;
        REAL m[POOL_LANES];
        int64_t at[POOL_LANES];
        for (int64_t t = 0; t < n; t++) m[t] = in[first + t], at[t] = first + t;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++) {
                const int64_t k = (y * iw + x) * C + t0;
                for (int64_t t = 0; t < n; t++) {
                    const int more = in[k + t] > m[t];
                    m[t] = more ? in[k + t] : m[t];
                    at[t] = more ? k + t : at[t];
                }
            }
        for (int64_t t = 0; t < n; t++) din[at[t]] += dz[t0 + t];
    }
}

/* Max pooling's backward when windows do not overlap (strides >= the window): each cell of a
 * window is written once, dz where the window's first maximum is and 0 elsewhere, instead of
 * zeroing din and adding; with relu, that dz times [maximum > 0] (the ReLU of the layer below:
 * its output is in, and the maximum is the cell's value), as the engine's pass over din would
 * make it, so folded or not the bits are the same. Cells of no window (the last rows or columns
 * of a "valid" pooling that the windows do not reach) are zeroed by the caller. */
GEMM_INLINE void FN(maxpool_window_write)(REAL *restrict din, const REAL *restrict in,
                                          const REAL *restrict dz, int64_t C, int64_t iw,
                                          int64_t a, int64_t b, int64_t c, int64_t d, int relu) {
    const sia_vr zero = {0}, one = zero + 1;
    int64_t t0 = 0;
    /* a vector of channels at a time: its maximum and the cell that holds it first, then the
       cells written through a select of dz or 0 */
    for (; t0 + SIA_VL <= C; t0 += SIA_VL) {
        sia_vr m = *(const sia_vr_u *)(in + (a * iw + c) * C + t0), at = {0};
        REAL q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++) {
                const sia_vr v = *(const sia_vr_u *)(in + (y * iw + x) * C + t0);
                const sia_vi more = v > m;
                m = FN(vselect)(more, v, m);
                at = FN(vselect)(more, zero + q, at);
            }
        sia_vr g = *(const sia_vr_u *)(dz + t0);
        if (relu) g = g * (sia_vr)((sia_vi)(m > zero) & (sia_vi)one);
        q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++)
                *(sia_vr_u *)(din + (y * iw + x) * C + t0) = FN(vselect)(at == zero + q, g, zero);
    }
    for (; t0 < C; t0++) {
        REAL m = in[(a * iw + c) * C + t0];
        int64_t at = 0, q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++)
                if (in[(y * iw + x) * C + t0] > m) m = in[(y * iw + x) * C + t0], at = q;
        const REAL g = relu ? dz[t0] * (REAL)(m > 0) : dz[t0];
        q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++) din[(y * iw + x) * C + t0] = at == q ? g : 0;
    }
}

/* The same for a 2 × 2 window inside the input, its rows at r0 and r1 (din's at d0, d1): the
 * four cells compared in (row, column) order, each later one taken when strictly larger, so the
 * first maximum wins; then each cell written once. */
GEMM_INLINE void FN(maxpool_2x2_write)(REAL *restrict d0, REAL *restrict d1, const REAL *restrict r0,
                                       const REAL *restrict r1, const REAL *restrict dz, int64_t C,
                                       int relu) {
    const sia_vr zero = {0}, one = zero + 1;
    int64_t t = 0;
    for (; t + SIA_VL <= C; t += SIA_VL) {
        const sia_vr a = *(const sia_vr_u *)(r0 + t), b = *(const sia_vr_u *)(r0 + C + t);
        const sia_vr c = *(const sia_vr_u *)(r1 + t), d = *(const sia_vr_u *)(r1 + C + t);
        const sia_vi mb = b > a;
        sia_vr m = FN(vselect)(mb, b, a);
        const sia_vi mc = c > m;
        m = FN(vselect)(mc, c, m);
        const sia_vi md = d > m;
        m = FN(vselect)(md, d, m);
        sia_vr g = *(const sia_vr_u *)(dz + t);
        if (relu) g = g * (sia_vr)((sia_vi)(m > zero) & (sia_vi)one);
        const sia_vi onc = mc & ~md, onb = mb & ~mc & ~md, ona = ~(mb | mc | md);
        *(sia_vr_u *)(d0 + t) = (sia_vr)((sia_vi)g & ona);
        *(sia_vr_u *)(d0 + C + t) = (sia_vr)((sia_vi)g & onb);
        *(sia_vr_u *)(d1 + t) = (sia_vr)((sia_vi)g & onc);
        *(sia_vr_u *)(d1 + C + t) = (sia_vr)((sia_vi)g & md);
    }
    for (; t < C; t++) {
        const REAL v[4] = {r0[t], r0[C + t], r1[t], r1[C + t]};
        int at = 0;
        for (int q = 1; q < 4; q++) at = v[q] > v[at] ? q : at;
        const REAL g = relu ? dz[t] * (REAL)(v[at] > 0) : dz[t];
        d0[t] = at == 0 ? g : 0, d0[C + t] = at == 1 ? g : 0;
        d1[t] = at == 2 ? g : 0, d1[C + t] = at == 3 ? g : 0;
    }
}

/* The max of a 2 × 2 window inside the input (rows at r0, r1) into z, a vector of channels at a
   time, in the generic loop's order: the first cell, then each later one when larger. */
GEMM_INLINE void FN(maxpool_2x2_forward)(REAL *restrict z, const REAL *restrict r0,
                                         const REAL *restrict r1, int64_t C) {
    int64_t t = 0;
    for (; t + SIA_VL <= C; t += SIA_VL) {
        const sia_vr b = *(const sia_vr_u *)(r0 + C + t), c = *(const sia_vr_u *)(r1 + t);
        const sia_vr d = *(const sia_vr_u *)(r1 + C + t);
        sia_vr m = *(const sia_vr_u *)(r0 + t);
        m = FN(vselect)(b > m, b, m);
        m = FN(vselect)(c > m, c, m);
        *(sia_vr_u *)(z + t) = FN(vselect)(d > m, d, m);
    }
    for (; t < C; t++) {
        REAL m = r0[t];
        m = r0[C + t] > m ? r0[C + t] : m;
        m = r1[t] > m ? r1[t] : m;
        z[t] = r1[C + t] > m ? r1[C + t] : m;
    }
}

/* One sample. Max forward: z = the first cell, then max; backward: maxpool_window_write when
 * the windows do not overlap, else maxpool_window_backward. 2 × 2 windows inside the input go
 * through maxpool_2x2_*, the same arithmetic without the window's loops.
 * Average: forward was z = Σ cells / count, so each cell gets dz / count. relu (tiled max
 * pooling only, see pool_folds_relu): din *= [in > 0]. */
GEMM_CLONES
static void FN(pool_sample)(const sia_layer *l, REAL *restrict out, const REAL *restrict in,
                            const REAL *restrict dz, int backward, int relu) {
    const int64_t C = l->in_c, iw = l->in_w;
    const int is_max = l->kind == SIA_LAYER_MAXPOOL;
    const int two = l->kh == 2 && l->kw == 2 && l->sh == 2 && l->sw == 2;
    /* windows side by side: each cell written once (maxpool_window_write), the rest zeroed here */
    const int tiled = is_max && backward && l->sh >= l->kh && l->sw >= l->kw;
    if (tiled) {
        const int64_t rows = l->out_h * l->sh - l->pad_t, cols = l->out_w * l->sw - l->pad_l;
        for (int64_t y = 0; y < l->in_h; y++) {
            REAL *g = out + y * iw * C;
            if (y >= rows || (y + l->pad_t) % l->sh >= l->kh) memset(g, 0, (size_t)(iw * C) * sizeof(REAL));
            else
                for (int64_t x = 0; x < iw; x++)
                    if (x >= cols || (x + l->pad_l) % l->sw >= l->kw) memset(g + x * C, 0, (size_t)C * sizeof(REAL));
        }
    } else if (backward) memset(out, 0, (size_t)(l->in_h * iw * C) * sizeof(REAL));
    for (int64_t i = 0; i < l->out_h; i++)
        for (int64_t j = 0; j < l->out_w; j++) {
            int64_t a, b, c, d;
            FN(pool_window)(l, i, j, &a, &b, &c, &d);
            const int64_t o = (i * l->out_w + j) * C;
            const int whole = two && b - a == 2 && d - c == 2; /* a 2 × 2 window inside */
            if (is_max && whole) {
                const REAL *r0 = in + (a * iw + c) * C;
                if (!backward) FN(maxpool_2x2_forward)(out + o, r0, r0 + iw * C, C);
                else {
                    REAL *d0 = out + (a * iw + c) * C;
                    FN(maxpool_2x2_write)(d0, d0 + iw * C, r0, r0 + iw * C, dz + o, C, relu);
                }
            } else if (is_max && !backward) {
                REAL *z = out + o;
                int64_t t0 = 0;
                for (; t0 + SIA_VL <= C; t0 += SIA_VL) { /* a vector of channels, in registers */
                    sia_vr m = *(const sia_vr_u *)(in + (a * iw + c) * C + t0);
                    for (int64_t y = a; y < b; y++)
                        for (int64_t x = c; x < d; x++) {
                            const sia_vr v = *(const sia_vr_u *)(in + (y * iw + x) * C + t0);
                            m = FN(vselect)(v > m, v, m);
                        }
                    *(sia_vr_u *)(z + t0) = m;
                }
                const REAL *v0 = in + (a * iw + c) * C;
                for (int64_t t = t0; t < C; t++) z[t] = v0[t];
                for (int64_t y = a; y < b; y++)
                    for (int64_t x = c; x < d; x++) {
                        const REAL *v = in + (y * iw + x) * C;
                        for (int64_t t = t0; t < C; t++) z[t] = v[t] > z[t] ? v[t] : z[t];
                    }
            } else if (tiled) {
                FN(maxpool_window_write)(out, in, dz + o, C, iw, a, b, c, d, relu);
            } else if (is_max) {
                FN(maxpool_window_backward)(out, in, dz + o, C, iw, a, b, c, d);
            } else {
                const REAL scale = (REAL)1 / (REAL)((b - a) * (d - c));
                if (!backward) {
                    REAL *z = out + o;
                    for (int64_t t = 0; t < C; t++) z[t] = 0;
                    for (int64_t y = a; y < b; y++)
                        for (int64_t x = c; x < d; x++) {
                            const REAL *v = in + (y * iw + x) * C;
                            for (int64_t t = 0; t < C; t++) z[t] += v[t];
                        }
                    for (int64_t t = 0; t < C; t++) z[t] *= scale;
                } else {
                    for (int64_t y = a; y < b; y++)
                        for (int64_t x = c; x < d; x++) {
                            REAL *g = out + (y * iw + x) * C;
                            for (int64_t t = 0; t < C; t++) g[t] += dz[o + t] * scale;
                        }
                }
            }
        }
}

/* Global average: forward z[t] = Σ_pixels in[·, t] / n; backward din[·, t] = dz[t] / n. */
static void FN(gap_sample)(const sia_layer *l, REAL *restrict out, const REAL *restrict in,
                           const REAL *restrict dz, int backward) {
    const int64_t C = l->in_c, n = l->in_h * l->in_w;
    const REAL scale = (REAL)1 / (REAL)n;
    if (backward) {
        for (int64_t p = 0; p < n; p++)
            for (int64_t t = 0; t < C; t++) out[p * C + t] = dz[t] * scale;
        return;
    }
    for (int64_t t = 0; t < C; t++) out[t] = 0;
    for (int64_t p = 0; p < n; p++)
        for (int64_t t = 0; t < C; t++) out[t] += in[p * C + t];
    for (int64_t t = 0; t < C; t++) out[t] *= scale;
}

/* Nearest upsampling: forward copies in[i, j] to its kh × kw block; backward writes each
 * din[i, j] once, the sum of its block of dz (in the block's row-major order), times
 * [in[i, j] > 0] with relu (the ReLU of the layer below, as the engine's pass would), a vector
 * of channels at a time where they make whole vectors. */
GEMM_CLONES
static void FN(upsample_sample)(const sia_layer *l, REAL *restrict out, const REAL *restrict in,
                                const REAL *restrict dz, int backward, int relu) {
    const int64_t C = l->in_c, iw = l->in_w, ow = l->out_w, kh = l->kh, kw = l->kw;
    if (!backward) { /* row y of the output is input row y / kh: no division per pixel */
        for (int64_t i = 0; i < l->in_h; i++)
            for (int64_t y = i * kh; y < (i + 1) * kh; y++) {
                REAL *d = out + y * ow * C;
                for (int64_t j = 0; j < iw; j++) {
                    const REAL *s = in + (i * iw + j) * C;
                    for (int64_t x = 0; x < kw; x++, d += C) {
                        int64_t t = 0;
                        for (; t + SIA_VL <= C; t += SIA_VL) *(sia_vr_u *)(d + t) = *(const sia_vr_u *)(s + t);
                        for (; t < C; t++) d[t] = s[t];
                    }
                }
            }
        return;
    }
    for (int64_t i = 0; i < l->in_h; i++)
        for (int64_t j = 0; j < iw; j++) {
            REAL *g = out + (i * iw + j) * C;
            const REAL *d0 = dz + (i * kh * ow + j * kw) * C;
            int64_t t = 0;
            for (; t + SIA_VL <= C; t += SIA_VL) {
                sia_vr s = {0};
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++) s += *(const sia_vr_u *)(d0 + (y * ow + x) * C + t);
                if (relu) {
                    const sia_vr zero = {0};
                    s = s * (sia_vr)((sia_vi)(*(const sia_vr_u *)(in + (i * iw + j) * C + t) > zero) & (sia_vi)(zero + 1));
                }
                *(sia_vr_u *)(g + t) = s;
            }
            for (; t < C; t++) {
                REAL s = 0;
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++) s += d0[(y * ow + x) * C + t];
                g[t] = relu ? s * (REAL)(in[(i * iw + j) * C + t] > 0) : s;
            }
        }
}

static void FN(pool_task)(void *ctx, int64_t i) {
    const FN(pool_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t n_in = l->in_h * l->in_w * l->in_c, n_out = l->out_h * l->out_w * l->out_c;
    const int64_t s0 = sia_part_start(i, j->B, (int)j->ntasks), s1 = sia_part_start(i + 1, j->B, (int)j->ntasks);
    for (int64_t s = s0; s < s1; s++) {
        REAL *out = j->out + s * (j->backward ? n_in : n_out);
        const REAL *in = j->in + s * n_in, *dz = j->dz ? j->dz + s * n_out : NULL;
        if (l->kind == SIA_LAYER_GAP) FN(gap_sample)(l, out, in, dz, j->backward);
        else if (l->kind == SIA_LAYER_UPSAMPLE) FN(upsample_sample)(l, out, in, dz, j->backward, j->relu);
        else FN(pool_sample)(l, out, in, dz, j->backward, j->relu);
    }
}

static void FN(pool_run)(const sia_layer *l, REAL *out, const REAL *in, const REAL *dz, int64_t B,
                         int backward, int relu, int nthreads) {
    if (B <= 0) return;
    FN(pool_job) j = {.l = l, .out = out, .in = in, .dz = dz, .B = B, .backward = backward,
                      .relu = relu, .ntasks = FN(layer_ntasks)(B, 1, nthreads)};
    sia_pool_run(nthreads, j.ntasks, FN(pool_task), &j);
}

/* The four kinds share one entry of each: they need no scratch and have no parameters. */
int64_t FN(sia_pool_scratch)(const sia_layer *l, int64_t B) { return 0; }

void FN(sia_pool_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, const REAL *noise,
                      int64_t B, REAL *scratch, int nthreads) {
    FN(pool_run)(l, z, in, NULL, B, 0, 0, nthreads);
}

void FN(sia_pool_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                       const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                       int accumulate, int nthreads) {
    if (din) FN(pool_run)(l, din, in, dz, B, 1, 0, nthreads);
}

/* Whether the backward can fold the ReLU of the layer below into din: max pooling whose windows
   do not overlap (each din cell written once, by one window) and upsampling (each written once,
   a sum of its own). Overlapping windows add several windows' shares, and a zero's sign would
   then differ from the engine's pass over their sum. */
static int FN(pool_folds_relu)(const sia_layer *l) {
    return (l->kind == SIA_LAYER_MAXPOOL && l->sh >= l->kh && l->sw >= l->kw) || l->kind == SIA_LAYER_UPSAMPLE;
}

int FN(sia_pool_backward_relu)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                               const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                               int accumulate, int nthreads) {
    if (!din || !FN(pool_folds_relu)(l)) return 0;
    FN(pool_run)(l, din, in, dz, B, 1, 1, nthreads);
    return 1;
}
