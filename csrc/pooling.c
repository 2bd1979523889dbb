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
    int backward;
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
 * zeroing din and adding. Cells of no window (the last rows or columns of a "valid" pooling
 * that the windows do not reach) are zeroed by the caller. */
GEMM_INLINE void FN(maxpool_window_write)(REAL *restrict din, const REAL *restrict in,
                                          const REAL *restrict dz, int64_t C, int64_t iw,
                                          int64_t a, int64_t b, int64_t c, int64_t d) {
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
                at = FN(vselect)(more, (sia_vr){0} + q, at);
            }
        const sia_vr g = *(const sia_vr_u *)(dz + t0);
        q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++)
                *(sia_vr_u *)(din + (y * iw + x) * C + t0) = FN(vselect)(at == (sia_vr){0} + q, g, (sia_vr){0});
    }
    for (; t0 < C; t0++) {
        REAL m = in[(a * iw + c) * C + t0];
        int64_t at = 0, q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++)
                if (in[(y * iw + x) * C + t0] > m) m = in[(y * iw + x) * C + t0], at = q;
        q = 0;
        for (int64_t y = a; y < b; y++)
            for (int64_t x = c; x < d; x++, q++) din[(y * iw + x) * C + t0] = at == q ? dz[t0] : 0;
    }
}

/* One sample. Max forward: z = the first cell, then max; backward: maxpool_window_backward.
 * Average: forward was z = Σ cells / count, so each cell gets dz / count. */
GEMM_CLONES
static void FN(pool_sample)(const sia_layer *l, REAL *restrict out, const REAL *restrict in,
                            const REAL *restrict dz, int backward) {
    const int64_t C = l->in_c, iw = l->in_w;
    const int is_max = l->kind == SIA_LAYER_MAXPOOL;
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
            if (is_max && !backward) {
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
                FN(maxpool_window_write)(out, in, dz + o, C, iw, a, b, c, d);
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
 * din[i, j] once, the sum of its block of dz (in the block's row-major order), a vector of
 * channels at a time where they make whole vectors. */
GEMM_CLONES
static void FN(upsample_sample)(const sia_layer *l, REAL *restrict out, const REAL *restrict in,
                                const REAL *restrict dz, int backward) {
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
                *(sia_vr_u *)(g + t) = s;
            }
            for (; t < C; t++) {
                REAL s = 0;
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++) s += d0[(y * ow + x) * C + t];
                g[t] = s;
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
        else if (l->kind == SIA_LAYER_UPSAMPLE) FN(upsample_sample)(l, out, in, dz, j->backward);
        else FN(pool_sample)(l, out, in, dz, j->backward);
    }
}

static void FN(pool_run)(const sia_layer *l, REAL *out, const REAL *in, const REAL *dz, int64_t B,
                         int backward, int nthreads) {
    if (B <= 0) return;
    FN(pool_job) j = {.l = l, .out = out, .in = in, .dz = dz, .B = B, .backward = backward,
                      .ntasks = FN(layer_ntasks)(B, 1, nthreads)};
    sia_pool_run(nthreads, j.ntasks, FN(pool_task), &j);
}

/* The four kinds share one entry of each: they need no scratch and have no parameters. */
int64_t FN(sia_pool_scratch)(const sia_layer *l, int64_t B) { return 0; }

void FN(sia_pool_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, const REAL *noise,
                      int64_t B, REAL *scratch, int nthreads) {
    FN(pool_run)(l, z, in, NULL, B, 0, nthreads);
}

void FN(sia_pool_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                       const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                       int accumulate, int nthreads) {
    if (din) FN(pool_run)(l, din, in, dz, B, 1, nthreads);
}
