/* conv.c (template, see real.h): Conv2D and Conv2DTranspose as im2col + sia_gemm.
 *
 * Shapes, channels last (sia_layer, sia.h):
 *   Conv2D:          in (B, ih, iw, ic), W (oc, kh, kw, ic), b (oc), z (B, oh, ow, oc)
 *   Conv2DTranspose: in (B, ih, iw, ic), W (ic, kh, kw, oc), b (oc), z (B, oh, ow, oc)
 * b lies right after W in the flat parameters (and db after dW).
 *
 * Both kinds are one geometry: a "big" image (H, W, C) and a "small" grid (gh, gw) of patches,
 * patch (i, j) covering big[i·sh − pt + ky, j·sw − pl + kx, :] for ky < kh, kx < kw, the cells
 * outside the big image being zero. im2col gives one row per patch, ordered (ky, kx, c); col2im
 * adds such rows back into the big image.
 *   Conv2D:          big = the input, small = the output grid, pt, pl = the padding:
 *                    z = im2col(in) · Wᵀ + b                                   (one gemm)
 *   Conv2DTranspose: big = the output, small = the input grid, pt, pl = the crop:
 *                    z = col2im(in · W) + b  (in (B·ih·iw, ic) · W (ic, kh·kw·oc), one gemm)
 *
 * The batch runs in pieces of at most conv_rows patches (their im2col rows fit in L2), grouped
 * in units of whole samples (several small samples per unit, or one sample cut into pieces),
 * and up to SIA_LAYER_TASKS tasks take whole units, each with its own slice of the scratch
 * (the im2col rows of a piece, then a partial dW and db). The pieces depend on the shapes
 * alone, so forward is bit-identical for any thread count; a backward's dW and db add the
 * tasks' partial sums in task order, so they are for a given thread count. */

enum { CONV_COLS = 65536, CONV_MIN_ROWS = 8 }; /* REALs of a piece's im2col rows; fewest rows */

typedef struct {
    int64_t H, W, C;    /* the big image */
    int64_t gh, gw;     /* the grid of patches */
    int64_t kh, kw, sh, sw, pt, pl;
} FN(conv_geom);

/* The geometry of a layer, its patch length K = kh·kw·C, and whether it is a plain product
   (1 × 1 kernel, stride 1, no padding: the im2col rows are the big image's pixels). */
static FN(conv_geom) FN(conv_geometry)(const sia_layer *l) {
    const int t = l->kind == SIA_LAYER_CONV2D_T;
    return (FN(conv_geom)){.H = t ? l->out_h : l->in_h, .W = t ? l->out_w : l->in_w,
                           .C = t ? l->out_c : l->in_c, .gh = t ? l->in_h : l->out_h,
                           .gw = t ? l->in_w : l->out_w, .kh = l->kh, .kw = l->kw, .sh = l->sh,
                           .sw = l->sw, .pt = l->pad_t, .pl = l->pad_l};
}
static int FN(conv_is_product)(const FN(conv_geom) *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->gh == g->H && g->gw == g->W;
}

/* cols (p1 - p0, kh·kw·C) = the im2col rows of patches p0 .. p1-1, numbered over the samples of
   big (·, H, W, C) in (sample, i, j) order. A patch row's kw·C values of one ky are one run of
   the big image's row when the patch lies inside it horizontally. */
static void FN(im2col)(REAL *restrict cols, const REAL *restrict big, const FN(conv_geom) *g,
                       int64_t p0, int64_t p1) {
    const int64_t P = g->gh * g->gw, C = g->C, run = g->kw * C, K = g->kh * run, rowlen = g->W * C;
    for (int64_t p = p0; p < p1; p++, cols += K) {
        const int64_t b = p / P, i = p % P / g->gw, j = p % g->gw;
        const REAL *img = big + b * g->H * rowlen;
        const int64_t y0 = i * g->sh - g->pt, x0 = j * g->sw - g->pl;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            REAL *c = cols + ky * run;
            const int64_t y = y0 + ky;
            if (y < 0 || y >= g->H) {
                for (int64_t t = 0; t < run; t++) c[t] = 0;
                continue;
            }
            const REAL *row = img + y * rowlen;
            if (x0 >= 0 && x0 + g->kw <= g->W) {
                memcpy(c, row + x0 * C, (size_t)run * sizeof(REAL));
                continue;
            }
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const int64_t x = x0 + kx;
                for (int64_t t = 0; t < C; t++) c[kx * C + t] = x >= 0 && x < g->W ? row[x * C + t] : 0;
            }
        }
    }
}

/* big += col2im(cols): the rows of patches p0 .. p1-1 added back where im2col read them (the
   cells outside the big image are dropped). */
static void FN(col2im)(REAL *restrict big, const REAL *restrict cols, const FN(conv_geom) *g,
                       int64_t p0, int64_t p1) {
    const int64_t P = g->gh * g->gw, C = g->C, run = g->kw * C, K = g->kh * run, rowlen = g->W * C;
    for (int64_t p = p0; p < p1; p++, cols += K) {
        const int64_t b = p / P, i = p % P / g->gw, j = p % g->gw;
        REAL *img = big + b * g->H * rowlen;
        const int64_t y0 = i * g->sh - g->pt, x0 = j * g->sw - g->pl;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            const REAL *c = cols + ky * run;
            const int64_t y = y0 + ky;
            if (y < 0 || y >= g->H) continue;
            REAL *row = img + y * rowlen;
            if (x0 >= 0 && x0 + g->kw <= g->W) {
                REAL *r = row + x0 * C;
                for (int64_t t = 0; t < run; t++) r[t] += c[t];
                continue;
            }
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const int64_t x = x0 + kx;
                if (x < 0 || x >= g->W) continue;
                for (int64_t t = 0; t < C; t++) row[x * C + t] += c[kx * C + t];
            }
        }
    }
}

/* Few output channels (a network's last layer, to 1 or 3 channels): the K-wide im2col rows
 * would cost as much to write and read back as the oc multiply-adds made from each, so these
 * paths read the patches in place, one run of kw·C values per row ky (cells kx0 .. kx1 inside
 * the big image). */
enum { CONV_OUTER_OC = 4 };

/* The patch's rows in the big image: its run of row ky starts at run0 + ky·rowlen (NULL when
   the row lies outside); cells kx0 .. kx1 of each run are inside. */
typedef struct {
    int64_t ky0, ky1, kx0, kx1;   /* the rows and cells inside */
    int64_t at;                   /* offset of the (ky = 0, kx = 0) cell, possibly outside */
} FN(conv_patch);

static inline FN(conv_patch) FN(conv_patch_at)(const FN(conv_geom) *g, int64_t p) {
    const int64_t P = g->gh * g->gw, b = p / P, i = p % P / g->gw, j = p % g->gw;
    const int64_t y0 = i * g->sh - g->pt, x0 = j * g->sw - g->pl;
    return (FN(conv_patch)){.ky0 = y0 < 0 ? -y0 : 0, .ky1 = y0 + g->kh > g->H ? g->H - y0 : g->kh,
                            .kx0 = x0 < 0 ? -x0 : 0, .kx1 = x0 + g->kw > g->W ? g->W - x0 : g->kw,
                            .at = ((b * g->H + y0) * g->W + x0) * g->C};
}

/* Conv2D to one channel: z[p] (+)= Σ_k cols[p, k] W[k], without the cols. VL patches of one
 * output row that lie inside the image horizontally at a time, as gemm_dot_rows's VL dot
 * products of each run ky with W's; the others one by one. */
GEMM_CLONES
static void FN(conv_dot_forward)(REAL *restrict z, const REAL *restrict big, const REAL *restrict W,
                                 const FN(conv_geom) *g, int64_t p0, int64_t p1) {
    const int64_t C = g->C, run = g->kw * C, rowlen = g->W * C;
    for (int64_t p = p0; p < p1;) {
        const FN(conv_patch) a = FN(conv_patch_at)(g, p);
        const int64_t j = p % g->gw, room = g->gw - j;
        /* the VL patches p .. p+VL-1 are in this output row, and the last lies inside too */
        if (a.kx0 == 0 && a.kx1 == g->kw && room >= GEMM_VL && p + GEMM_VL <= p1 &&
            (j + GEMM_VL - 1) * g->sw - g->pl + g->kw <= g->W) {
            vreal acc = {0};
            for (int64_t ky = a.ky0; ky < a.ky1; ky++) {
                const REAL *w[GEMM_VL];
                for (int r = 0; r < GEMM_VL; r++) w[r] = big + a.at + ky * rowlen + r * g->sw * C;
                const REAL *wk = W + ky * run;
                vreal xk = run >= GEMM_VL ? gemm_tail_x(wk, run) : (vreal){0}; /* see gemm_dot_rows */
                for (int l = 0; l < GEMM_VL && run < GEMM_VL; l++) xk[l] = l < run ? wk[l] : 0;
                acc += gemm_dot_rows(w, wk, xk, run);
            }
            for (int r = 0; r < GEMM_VL; r++) z[p + r] += acc[r];
            p += GEMM_VL;
            continue;
        }
        REAL s = 0;
        for (int64_t ky = a.ky0; ky < a.ky1; ky++) {
            const REAL *r = big + a.at + ky * rowlen, *wk = W + ky * run;
            for (int64_t t = a.kx0 * C; t < a.kx1 * C; t++) s += r[t] * wk[t];
        }
        z[p] += s;
        p++;
    }
}

/* Backward of a Conv2D with oc <= CONV_OUTER_OC, without the cols: for each patch p and row ky,
 *   dW[o, ky, :] += dz[p, o] · (its run of the input)          (dW += dzᵀ cols)
 *   din's run    += Σ_o dz[p, o] · W[o, ky, :]   (din NULL: not) (col2im(dz W)). */
GEMM_CLONES
static void FN(conv_outer_backward)(REAL *restrict din, REAL *restrict dW, const REAL *restrict dz,
                                    const REAL *restrict big, const REAL *restrict W, int64_t oc,
                                    const FN(conv_geom) *g, int64_t p0, int64_t p1) {
    const int64_t C = g->C, run = g->kw * C, K = g->kh * run, rowlen = g->W * C;
    for (int64_t p = p0; p < p1; p++) {
        const FN(conv_patch) a = FN(conv_patch_at)(g, p);
        const REAL *d = dz + p * oc;
        for (int64_t ky = a.ky0; ky < a.ky1; ky++) {
            const REAL *r = big + a.at + ky * rowlen;
            for (int64_t o = 0; o < oc; o++) {
                REAL *dw = dW + o * K + ky * run;
                const REAL s = d[o];
                for (int64_t t = a.kx0 * C; t < a.kx1 * C; t++) dw[t] += s * r[t];
            }
            if (!din) continue;
            REAL *dr = din + a.at + ky * rowlen;
            for (int64_t o = 0; o < oc; o++) {
                const REAL *w = W + o * K + ky * run, s = d[o];
                for (int64_t t = a.kx0 * C; t < a.kx1 * C; t++) dr[t] += s * w[t];
            }
        }
    }
}

/* Patches per piece: CONV_COLS REALs of im2col rows, at least CONV_MIN_ROWS. */
static int64_t FN(conv_rows)(const FN(conv_geom) *g) {
    const int64_t K = g->kh * g->kw * g->C, r = CONV_COLS / (K > 0 ? K : 1);
    return r > CONV_MIN_ROWS ? r : CONV_MIN_ROWS;
}

/* Samples per unit: as many whole samples as fit in one piece, at least one. */
static int64_t FN(conv_unit)(const FN(conv_geom) *g) {
    const int64_t P = g->gh * g->gw, u = FN(conv_rows)(g) / (P > 0 ? P : 1);
    return u > 1 ? u : 1;
}

/* A task's scratch: a piece's im2col rows, then a partial dW and db (backward). */
static int64_t FN(conv_task_scratch)(const sia_layer *l) {
    const FN(conv_geom) g = FN(conv_geometry)(l);
    int64_t cols, w, s;
    if (!sia_mul_ok(FN(conv_rows)(&g), g.kh * g.kw * g.C, &cols) ||
        !sia_mul_ok(l->in_c * l->kh * l->kw, l->out_c, &w) || !sia_add_ok(cols, w, &s) ||
        !sia_add_ok(s, l->out_c, &s))
        return -1;
    return s;
}

int64_t FN(sia_conv2d_scratch)(const sia_layer *l, int64_t B) {
    const int64_t s = FN(conv_task_scratch)(l);
    int64_t all;
    return s >= 0 && sia_mul_ok(s, SIA_LAYER_TASKS, &all) ? all : -1;
}
int64_t FN(sia_conv2d_t_scratch)(const sia_layer *l, int64_t B) { return FN(sia_conv2d_scratch)(l, B); }

/* One call of a kind's forward or backward, cut into tasks of whole units. */
typedef struct {
    const sia_layer *l;
    FN(conv_geom) g;
    REAL *z, *din, *dW;
    const REAL *in, *W, *dz;
    REAL *scratch;
    int64_t B, unit, rows, slice, ntasks;
    int gemm_threads;
} FN(conv_job);

/* Tasks for B samples in units of `unit`: at most nthreads, SIA_LAYER_TASKS and the units. */
static int64_t FN(layer_ntasks)(int64_t B, int64_t unit, int nthreads) {
    const int64_t units = (B + unit - 1) / unit;
    int64_t t = nthreads < SIA_LAYER_TASKS ? nthreads : SIA_LAYER_TASKS;
    t = t < units ? t : units;
    return t > 1 ? t : 1;
}

/* Samples [*s0, *s1) of task i of the job. */
static void FN(conv_task_samples)(const FN(conv_job) *j, int64_t i, int64_t *s0, int64_t *s1) {
    const int64_t units = (j->B + j->unit - 1) / j->unit;
    *s0 = sia_part_start(i, units, (int)j->ntasks) * j->unit;
    *s1 = sia_part_start(i + 1, units, (int)j->ntasks) * j->unit;
    if (*s1 > j->B) *s1 = j->B;
}

/* z rows [r0, r1) (·, oc) = b. */
static void FN(conv_fill_bias)(REAL *z, const REAL *b, int64_t oc, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) memcpy(z + r * oc, b, (size_t)oc * sizeof(REAL));
}

/* db (oc) += Σ_r dz[r, :] over rows [r0, r1). */
static void FN(conv_sum_rows)(REAL *restrict db, const REAL *restrict dz, int64_t oc, int64_t r0,
                              int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        const REAL *d = dz + r * oc;
        for (int64_t o = 0; o < oc; o++) db[o] += d[o];
    }
}

/* The units of samples [s0, s1): samples [u, ue) each. */
#define CONV_FOR_UNITS(j, s0, s1, u, ue)                                                      \
    for (int64_t u = s0, ue = s0 + (j)->unit < s1 ? s0 + (j)->unit : s1; u < s1;               \
         u = ue, ue = u + (j)->unit < s1 ? u + (j)->unit : s1)
/* The pieces of the unit [u, ue): patches [p, p + m) of the grid each. */
#define CONV_FOR_PIECES(j, u, ue, p, m)                                                        \
    for (int64_t p = u * (j)->g.gh * (j)->g.gw, e_ = ue * (j)->g.gh * (j)->g.gw,               \
                 m = p + (j)->rows < e_ ? (j)->rows : e_ - p;                                   \
         p < e_; p += m, m = p + (j)->rows < e_ ? (j)->rows : e_ - p)

/* ---- Conv2D ---- */

/* z = im2col(in) · Wᵀ + b, piece by piece: z's rows of a piece are its patches. */
static void FN(conv2d_forward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t oc = l->out_c, K = l->kh * l->kw * l->in_c;
    const REAL *b = j->W + oc * K;
    REAL *cols = j->scratch + i * j->slice;
    const int direct = FN(conv_is_product)(&j->g);
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    CONV_FOR_UNITS(j, s0, s1, u, ue) CONV_FOR_PIECES(j, u, ue, p, m) {
        FN(conv_fill_bias)(j->z, b, oc, p, p + m);
        if (oc == 1 && !direct) {
            FN(conv_dot_forward)(j->z, j->in, j->W, &j->g, p, p + m);
            continue;
        }
        const REAL *A = direct ? j->in + p * K : cols;
        if (!direct) FN(im2col)(cols, j->in, &j->g, p, p + m);
        FN(sia_gemm)(j->z + p * oc, A, j->W, m, oc, K, 0, 1, 1, j->gemm_threads);
    }
}

/* Forward was z[p, o] = Σ_k cols[p, k] W[o, k] + b[o] with cols = im2col(in), so
 *   dW[o, k] += Σ_p dz[p, o] cols[p, k]     (dzᵀ cols, piece by piece)
 *   db[o]    += Σ_p dz[p, o]
 *   din       = col2im(dz W)                 (dcols = dz W, then added back where read). */
static void FN(conv2d_backward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t oc = l->out_c, K = l->kh * l->kw * l->in_c, n_in = l->in_h * l->in_w * l->in_c;
    REAL *cols = j->scratch + i * j->slice, *dWp = cols + j->rows * K, *dbp = dWp + oc * K;
    const int direct = FN(conv_is_product)(&j->g);
    memset(dWp, 0, (size_t)(oc * K + oc) * sizeof(REAL));
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    CONV_FOR_UNITS(j, s0, s1, u, ue) {
        if (j->din && !direct) /* the unit's samples, before its pieces add to them */
            memset(j->din + u * n_in, 0, (size_t)((ue - u) * n_in) * sizeof(REAL));
        CONV_FOR_PIECES(j, u, ue, p, m) {
            FN(conv_sum_rows)(dbp, j->dz, oc, p, p + m);
            if (oc <= CONV_OUTER_OC && !direct) {
                FN(conv_outer_backward)(j->din, dWp, j->dz, j->in, j->W, oc, &j->g, p, p + m);
                continue;
            }
            const REAL *A = direct ? j->in + p * K : cols;
            if (!direct) FN(im2col)(cols, j->in, &j->g, p, p + m);
            FN(sia_gemm)(dWp, j->dz + p * oc, A, oc, K, m, 1, 0, 1, j->gemm_threads);
            if (j->din && direct)
                FN(sia_gemm)(j->din + p * K, j->dz + p * oc, j->W, m, K, oc, 0, 0, 0, j->gemm_threads);
            else if (j->din) {
                FN(sia_gemm)(cols, j->dz + p * oc, j->W, m, K, oc, 0, 0, 0, j->gemm_threads);
                FN(col2im)(j->din, cols, &j->g, p, p + m);
            }
        }
    }
}

/* ---- Conv2DTranspose ---- */

/* z = col2im(in · W) + b, the patches being the input's pixels. */
static void FN(conv2d_t_forward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t ic = l->in_c, oc = l->out_c, K = l->kh * l->kw * oc;
    const int64_t opix = l->out_h * l->out_w;
    const REAL *b = j->W + ic * K;
    REAL *cols = j->scratch + i * j->slice;
    const int direct = FN(conv_is_product)(&j->g);
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    CONV_FOR_UNITS(j, s0, s1, u, ue) {
        FN(conv_fill_bias)(j->z, b, oc, u * opix, ue * opix); /* then the pieces add to it */
        CONV_FOR_PIECES(j, u, ue, p, m) {
            if (direct) {
                FN(sia_gemm)(j->z + p * oc, j->in + p * ic, j->W, m, oc, ic, 0, 0, 1, j->gemm_threads);
                continue;
            }
            FN(sia_gemm)(cols, j->in + p * ic, j->W, m, K, ic, 0, 0, 0, j->gemm_threads);
            FN(col2im)(j->z, cols, &j->g, p, p + m);
        }
    }
}

/* Forward was z = col2im(cols) + b with cols[p, k] = Σ_c in[p, c] W[c, k], and col2im's
 * adjoint is im2col, so with dcols = im2col(dz):
 *   dW[c, k] += Σ_p in[p, c] dcols[p, k]    (inᵀ dcols)
 *   db[o]    += Σ over the output pixels of dz[·, o]
 *   din[p, c] = Σ_k dcols[p, k] W[c, k]      (dcols Wᵀ). */
static void FN(conv2d_t_backward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t ic = l->in_c, oc = l->out_c, K = l->kh * l->kw * oc;
    const int64_t opix = l->out_h * l->out_w;
    REAL *cols = j->scratch + i * j->slice, *dWp = cols + j->rows * K, *dbp = dWp + ic * K;
    const int direct = FN(conv_is_product)(&j->g);
    memset(dWp, 0, (size_t)(ic * K + oc) * sizeof(REAL));
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    FN(conv_sum_rows)(dbp, j->dz, oc, s0 * opix, s1 * opix);
    CONV_FOR_UNITS(j, s0, s1, u, ue) CONV_FOR_PIECES(j, u, ue, p, m) {
        const REAL *A = direct ? j->dz + p * oc : cols;
        if (!direct) FN(im2col)(cols, j->dz, &j->g, p, p + m);
        FN(sia_gemm)(dWp, j->in + p * ic, A, ic, K, m, 1, 0, 1, j->gemm_threads);
        if (j->din) FN(sia_gemm)(j->din + p * ic, A, j->W, m, ic, K, 0, 1, 0, j->gemm_threads);
    }
}

/* ---- the table's entries ---- */

static FN(conv_job) FN(conv_job_for)(const sia_layer *l, int64_t B, REAL *scratch, int nthreads) {
    FN(conv_job) j = {.l = l, .g = FN(conv_geometry)(l), .scratch = scratch, .B = B};
    j.unit = FN(conv_unit)(&j.g);
    j.rows = FN(conv_rows)(&j.g);
    j.slice = FN(conv_task_scratch)(l);
    j.ntasks = FN(layer_ntasks)(B, j.unit, nthreads);
    j.gemm_threads = j.ntasks == 1 ? nthreads : 1; /* gemm's threads, when the tasks are one */
    return j;
}

/* dW (nW + nb) = [dW +] the tasks' partial sums, in task order. */
static void FN(conv_reduce)(const FN(conv_job) *j, REAL *dW, int64_t n, int accumulate) {
    const int64_t at = j->rows * j->g.kh * j->g.kw * j->g.C;
    for (int64_t t = 0; t < j->ntasks; t++) {
        const REAL *part = j->scratch + t * j->slice + at;
        if (t == 0 && !accumulate) memcpy(dW, part, (size_t)n * sizeof(REAL));
        else
            for (int64_t k = 0; k < n; k++) dW[k] += part[k];
    }
}

void FN(sia_conv2d_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                        const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    if (B <= 0) return;
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads);
    j.z = z;
    j.in = in;
    j.W = W;
    sia_pool_run(nthreads, j.ntasks, FN(conv2d_forward_task), &j);
}

void FN(sia_conv2d_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                         const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                         int accumulate, int nthreads) {
    const int64_t n = l->out_c * l->kh * l->kw * l->in_c + l->out_c;
    if (B <= 0) {
        if (!accumulate) memset(dW, 0, (size_t)n * sizeof(REAL));
        return;
    }
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads);
    j.din = din;
    j.dz = dz;
    j.in = in;
    j.W = W;
    sia_pool_run(nthreads, j.ntasks, FN(conv2d_backward_task), &j);
    FN(conv_reduce)(&j, dW, n, accumulate);
}

void FN(sia_conv2d_t_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                          const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    if (B <= 0) return;
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads);
    j.z = z;
    j.in = in;
    j.W = W;
    sia_pool_run(nthreads, j.ntasks, FN(conv2d_t_forward_task), &j);
}

void FN(sia_conv2d_t_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                           const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                           int64_t B, REAL *scratch, int accumulate, int nthreads) {
    const int64_t n = l->in_c * l->kh * l->kw * l->out_c + l->out_c;
    if (B <= 0) {
        if (!accumulate) memset(dW, 0, (size_t)n * sizeof(REAL));
        return;
    }
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads);
    j.din = din;
    j.dz = dz;
    j.in = in;
    j.W = W;
    sia_pool_run(nthreads, j.ntasks, FN(conv2d_t_backward_task), &j);
    FN(conv_reduce)(&j, dW, n, accumulate);
}
