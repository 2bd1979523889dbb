/* winograd2.c (template, see real.h): the forward of a Conv2DTranspose with a 3 × 3 kernel at
 * stride 2, cropped at the bottom and right only (pt = pl = 0: Keras' 'same' and 'valid'), by
 * Winograd's F(2, 2) on its phases. conv.c's forward comes here for the layers that wino2_fits.
 * (Below it, the weight gradient of 3 × 3 stride-2 layers of both kinds by F(2, 2).)
 *
 * Shapes (channels last, as conv.c): in (B, ih, iw, ic), W (ic, 3, 3, oc), b (oc), z (B, oh, ow, oc).
 * In one dimension, z[2m] = x[m] w0 + x[m − 1] w2 and z[2m + 1] = x[m] w1 (the phases of conv.c's
 * conv_phases): the even outputs are a 2-tap correlation of x with h = (w2, w0), the odd ones
 * one tap. F(2, 2) gives two even outputs from the 3 inputs d = x[m − 1 .. m + 1] by 3 products:
 *   Bᵀ = [1 −1 0; 0 1 0; 0 −1 1],  G = [1 0; 1 1; 0 1],  Aᵀ = [1 1 0; 0 1 1]
 *   (z[2m], z[2m + 2]) = Aᵀ [(G h) ⊙ (Bᵀ d)]   (exact: no fractions).
 * In two dimensions a tile (ty, tx) is 2 × 2 input pixels (2ty + r, 2tx + s), r, s < 2, and its
 * 4 × 4 output block z[4ty + u, 4tx + v]; d (3 × 3) is the input window at (2ty − 1, 2tx − 1),
 * zero outside the image. For each channel pair (c, o), with W_c = W[c, :, :, o]:
 *   even, even (u = 2r, v = 2s):   Aᵀ [Σ_c U_ee ⊙ Bᵀ d B] A,  U_ee = G h Gᵀ, h[a][b] = W_c[2 − 2a, 2 − 2b]
 *   even, odd  (u = 2r, v = 2s + 1): Aᵀ [Σ_c U_eo ⊙ Bᵀ d[:, 1 + s]],  U_eo = G (W_c[2, 1], W_c[0, 1])
 *   odd, even  (u = 2r + 1, v = 2s): [Σ_c U_oe ⊙ d[1 + r, :] B] A,    U_oe = G (W_c[1, 2], W_c[1, 0])
 *   odd, odd   (u = 2r + 1, v = 2s + 1): Σ_c W_c[1, 1] x[2ty + r, 2tx + s]
 * that is 9 + 6 + 6 + 4 = 25 products per tile and channel pair instead of 36. The first three
 * are the tile's 21 transformed values ("rows"), in 15 groups, each one product with its own U:
 *   M[g] (rows of g, oc) = V[g] (rows, ic) · U[g] (ic, oc),
 * groups 0 .. 8 the 3 × 3 values of ee (a row per tile), 9 .. 11 the 3 values i of eo (two rows
 * per tile: s = 0, 1), 12 .. 14 the 3 values j of oe (two rows: r = 0, 1). The odd-odd phase
 * needs no transform: it is the plain product of each sample's pixels with W[:, 1, 1, :], written
 * to z's odd rows and columns in place (conv_fwd_sample with strides).
 *
 * As winograd.c: the batch runs in pieces of at most T tiles whose V and M stay in L2, the
 * products on conv.c's forward panel kernel with U packed once per call, tasks over whole
 * samples; every output element is one chain of operations whatever the pieces and tasks, so
 * forward is bit-identical for any thread count.
 *
 * Where it wins (wino2_fits, the shapes alone): 1 thread, float32, 128 images, paired calls
 * against the direct phases (bench/wino2_pair.py), 2-core AMD EPYC Zen 4 (AVX-512). The products
 * run faster than the direct kernel, but the transforms and the padded copy cost a fixed share,
 * and partial tiles compute cells for nothing:
 *   64 -> 64 channels: 4 × 4 input 1.12×, 6 × 6 1.24×, 8 × 8 1.28×, 10 × 10 1.31×, 14 × 14 1.33×;
 *     one tile (2 × 2 input) 0.89×; partial tiles: 5 × 5 (69% of the tiles' cells in the grid)
 *     0.86×, 7 × 7 (77%) 1.00×, 9 × 9 (81%) 1.12×, 11 × 11 (84%) 1.17×;
 *   64 -> 32 (workload F's 14 × 14 -> 28 × 28) 1.22-1.31×, 12 × 12 1.19×; 48 -> 48: 4 × 4 1.10×, 8 × 8 1.30×;
 *   fewer input channels win only on larger inputs: 32 -> 32 8 × 8 1.00×, 9 × 9 0.90×, 10 × 10
 *     1.07×, 12 × 12 1.13×, 14 × 14 1.27×, 28 × 28 1.14×; 24 -> 24 7 × 7 0.81×, 14 × 14 1.05×.
 * So: both channel counts from WINO2_MIN_C, at least 2 × 2 tiles, at least 80% of the tiles'
 * cells in the grid (5·oh·ow >= 64·th·tw), and from WINO2_WIDE_C input channels on, or else an
 * input of at least WINO2_NARROW_PIX pixels. Workload F's 7 × 7 -> 14 × 14 stays direct. */

/* WINO2_PIECE: REALs of a piece's V at most (128 KB in float32). */
enum { WINO2_MIN_C = 24, WINO2_WIDE_C = 48, WINO2_NARROW_PIX = 144, WINO2_PIECE = 32768, WINO2_G = 15,
       WINO2_ROWS = 21 };

/* Rows per tile of group g. */
static inline int64_t FN(wino2_mult)(int g) { return g < 9 ? 1 : 2; }

typedef struct {
    int64_t H, W, C, gh, gw, N; /* the input (H, W, C), the output grid (gh, gw) of N channels */
    int64_t th, tw, P;          /* tiles of 4 × 4 outputs, P a sample */
} FN(wino2_geom);

/* Whether layer l goes by this path (its shapes alone, see the top; sia_winograd switches it
   off, sia.h). oh <= 2·ih + 1 and ow <= 2·iw + 1: the odd-odd phase's window stays inside the
   padded input (the outputs past them would be the bias alone). */
static int FN(wino2_fits)(const sia_layer *l) {
    if (l->kind != SIA_LAYER_CONV2D_T || l->kh != 3 || l->kw != 3 || l->sh != 2 || l->sw != 2 ||
        l->pad_t != 0 || l->pad_l != 0 || l->in_c < WINO2_MIN_C || l->out_c < WINO2_MIN_C ||
        l->out_h <= 0 || l->out_w <= 0 || l->out_h > 2 * l->in_h + 1 || l->out_w > 2 * l->in_w + 1)
        return 0;
    const double th = (double)((l->out_h + 3) / 4), tw = (double)((l->out_w + 3) / 4); /* no overflow */
    return th * tw >= 4 && 5.0 * (double)l->out_h * (double)l->out_w >= 64 * th * tw &&
           (l->in_c >= WINO2_WIDE_C || (double)l->in_h * (double)l->in_w >= WINO2_NARROW_PIX);
}

typedef struct {
    FN(wino2_geom) g;
    int64_t np;            /* the packed U's columns: oc padded to panels */
    int64_t T, unit;       /* tiles per piece at most; samples per unit */
    int64_t buf;           /* REALs of a piece's V, and of its M */
    int64_t Hp, Wp, pad;   /* a sample padded by a zero row above and column left (and below
                              and right as far as the tiles reach); REALs of a unit's */
    int64_t shared, slice; /* REALs of the packed U (16 of (ic, np)), a zero bias and the bias
                              (np each); of a task's slice */
} FN(wino2_plan);

/* The offsets of the 15 groups of a piece of m tiles of C channels (wino_ld apart); the total. */
static int64_t FN(wino2_offsets)(int64_t *off, int64_t m, int64_t C) {
    int64_t at = 0;
    for (int g = 0; g < WINO2_G; g++) {
        if (off) off[g] = at;
        at += FN(wino_ld)(FN(wino2_mult)(g) * m, C);
    }
    return at;
}

static FN(wino2_plan) FN(wino2_plan_for)(const sia_layer *l) {
    FN(wino2_plan) p = {0};
    const int64_t ic = l->in_c, oc = l->out_c, cm = ic > oc ? ic : oc;
    const int64_t th = (l->out_h + 3) / 4, tw = (l->out_w + 3) / 4;
    p.g = (FN(wino2_geom)){.H = l->in_h, .W = l->in_w, .C = ic, .gh = l->out_h, .gw = l->out_w,
                           .N = oc, .th = th, .tw = tw, .P = th * tw};
    p.np = FN(conv_npad)(oc, ic);
    p.T = WINO2_PIECE / (WINO2_ROWS * cm) > 8 ? WINO2_PIECE / (WINO2_ROWS * cm) : 8;
    p.unit = p.T / p.g.P > 1 ? p.T / p.g.P : 1;
    p.Hp = 2 * th + 1, p.Wp = 2 * tw + 1;
    int64_t a, tc;
    if (!sia_mul_ok(p.T, cm, &tc) || !sia_mul_ok(tc, 2 * WINO2_G, &tc) || !sia_mul_ok(16 * ic, p.np, &a) ||
        !sia_add_ok(a, 2 * p.np, &p.shared) || !sia_mul_ok(p.Hp * p.Wp, ic, &p.pad) ||
        !sia_mul_ok(p.pad, p.unit, &p.pad)) {
        p.shared = -1;
        return p;
    }
    p.buf = FN(wino2_offsets)(NULL, p.T, cm);
    if (!sia_add_ok(2 * p.buf, p.pad + 4 * CONV_ALIGN, &p.slice)) p.shared = -1;
    return p;
}

/* The 21 transformed values of a window d (3 × 3, row-major), in the order of the groups: ee's
   9, then eo group i sub s at 9 + 2i + s, then oe group j sub r at 15 + 2j + r. */
GEMM_INLINE void FN(wino2_tf_in)(vreal *v, const vreal *d) {
    vreal e[9];
    for (int x = 0; x < 3; x++) /* Bᵀ d: the columns */
        e[x] = d[x] - d[3 + x], e[3 + x] = d[3 + x], e[6 + x] = d[6 + x] - d[3 + x];
    for (int y = 0; y < 3; y++) { /* (Bᵀ d) B: ee's rows */
        const vreal *a = e + 3 * y;
        v[3 * y] = a[0] - a[1], v[3 * y + 1] = a[1], v[3 * y + 2] = a[2] - a[1];
    }
    for (int i = 0; i < 3; i++) v[9 + 2 * i] = e[3 * i + 1], v[10 + 2 * i] = e[3 * i + 2];
    for (int r = 0; r < 2; r++) { /* d[1 + r, :] B: oe */
        const vreal *a = d + 3 * (1 + r);
        v[15 + r] = a[0] - a[1], v[17 + r] = a[1], v[19 + r] = a[2] - a[1];
    }
}

/* The 12 outputs (ee's 4 cells (2r, 2s), eo's (2r, 2s + 1), oe's (2r + 1, 2s), each r-major)
   of the 21 products a of a tile. */
GEMM_INLINE void FN(wino2_tf_out)(vreal *y, const vreal *a) {
    vreal cs[6];
    for (int r = 0; r < 2; r++) /* ee: Aᵀ a, then (Aᵀ a) A */
        for (int x = 0; x < 3; x++) cs[3 * r + x] = a[3 * r + x] + a[3 * (r + 1) + x];
    for (int r = 0; r < 2; r++)
        for (int s = 0; s < 2; s++) y[2 * r + s] = cs[3 * r + s] + cs[3 * r + s + 1];
    for (int r = 0; r < 2; r++) /* eo: Aᵀ over the groups i */
        for (int s = 0; s < 2; s++) y[4 + 2 * r + s] = a[9 + 2 * r + s] + a[9 + 2 * (r + 1) + s];
    for (int r = 0; r < 2; r++) /* oe: A over the groups j */
        for (int s = 0; s < 2; s++) y[8 + 2 * r + s] = a[15 + 2 * s + r] + a[15 + 2 * (s + 1) + r];
}

/* Where value q of a tile's 21 lies: its group's rows start at off[group], the tile's first
   row k rows of mult on, and the value is `sub` rows further. */
GEMM_INLINE int64_t FN(wino2_at)(const int64_t *off, int q, int64_t k, int64_t C) {
    const int grp = q < 9 ? q : 9 + (q - 9) / 2, sub = q < 9 ? 0 : (q - 9) % 2;
    return off[grp] + (k * FN(wino2_mult)(grp) + sub) * C;
}

/* One tile's n <= VL channels from c: V's 21 rows (at V + at[q] + c) from the window p. */
GEMM_INLINE void FN(wino2_in_at)(REAL *V, const int64_t *at, const REAL *const *p, int64_t c, int64_t n) {
    vreal d[9], v[21];
#pragma GCC unroll 9
    for (int q = 0; q < 9; q++) d[q] = FN(wino_load)(p[q] + c, n);
    FN(wino2_tf_in)(v, d);
#pragma GCC unroll 21
    for (int q = 0; q < 21; q++) {
        if (n == GEMM_VL) *(vreal_u *)(V + at[q] + c) = v[q];
        else FN(wino_store_part)(V + at[q] + c, v[q], n);
    }
}

/* V (15 groups of the tiles t0 .. t1−1 of g, wino2_offsets) = the transformed windows of the
   samples from u on, padded in pad (Hp, Wp, C) each. */
GEMM_CLONES
static void FN(wino2_in)(REAL *restrict V, const REAL *restrict pad, const FN(wino2_geom) *g,
                         int64_t Hp, int64_t Wp, int64_t t0, int64_t t1, int64_t u) {
    const int64_t C = g->C;
    int64_t off[WINO2_G], at[21], step[21];
    FN(wino2_offsets)(off, t1 - t0, C);
    for (int q = 0; q < 21; q++) at[q] = FN(wino2_at)(off, q, 0, C), step[q] = (q < 9 ? 1 : 2) * C;
    int64_t b = t0 / g->P, ty = t0 % g->P / g->tw, tx = t0 % g->tw;
    for (int64_t t = t0; t < t1; t++) {
        const REAL *p[9];
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) p[3 * i + k] = pad + (((b - u) * Hp + 2 * ty + i) * Wp + 2 * tx + k) * C;
        if (t > t0)
            for (int q = 0; q < 21; q++) at[q] += step[q];
        if (++tx == g->tw && (tx = 0, ++ty == g->th)) ty = 0, b++;
        int64_t c = 0;
        for (; c + GEMM_VL <= C; c += GEMM_VL) FN(wino2_in_at)(V, at, p, c, GEMM_VL);
        if (c < C) FN(wino2_in_at)(V, at, p, c, C - c);
    }
}

/* One tile's n <= VL channels from c: its cells (u, v) at zt + u·rs + v·N with bit e of `cells`
   (wino2_tf_out's order) = bias + the outputs of M's 21 rows (at M + at[q] + c), through the
   ReLU if relu. */
GEMM_INLINE void FN(wino2_out_at)(REAL *zt, int64_t rs, int64_t N, int cells, const REAL *M,
                                  const int64_t *at, const REAL *bias, int64_t c, int64_t n, int relu) {
    vreal a[21], y[12];
#pragma GCC unroll 21
    for (int e = 0; e < 21; e++) a[e] = FN(wino_load)(M + at[e] + c, n);
    FN(wino2_tf_out)(y, a);
    const vreal bv = FN(wino_load)(bias + c, n);
#pragma GCC unroll 12
    for (int e = 0; e < 12; e++) {
        if (!(cells >> e & 1)) continue;
        const int kind = e / 4, r = e % 4 / 2, s = e % 2;
        REAL *q = zt + (2 * r + (kind == 2)) * rs + (2 * s + (kind == 1)) * N + c;
        vreal v = y[e] + bv;
        if (relu) v = FN(conv_relu)(v);
        if (n == GEMM_VL) *(vreal_u *)q = v;
        else FN(wino_store_part)(q, v, n);
    }
}

/* z's cells of tiles t0 .. t1−1 with an even row or column = bias + the output transforms of M
   (15 groups of (rows, N)), through the ReLU if relu; cells outside the grid are not written. */
GEMM_CLONES
static void FN(wino2_out)(REAL *restrict z, const REAL *restrict M, const FN(wino2_geom) *g,
                          int64_t t0, int64_t t1, const REAL *restrict bias, int relu) {
    const int64_t N = g->N, rs = g->gw * N;
    int64_t off[WINO2_G], at[21], step[21];
    FN(wino2_offsets)(off, t1 - t0, N);
    for (int e = 0; e < 21; e++) at[e] = FN(wino2_at)(off, e, 0, N), step[e] = (e < 9 ? 1 : 2) * N;
    int64_t b = t0 / g->P, ty = t0 % g->P / g->tw, tx = t0 % g->tw;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t y0 = 4 * ty, x0 = 4 * tx;
        REAL *zt = z + ((b * g->gh + y0) * g->gw + x0) * N;
        if (t > t0)
            for (int e = 0; e < 21; e++) at[e] += step[e];
        if (++tx == g->tw && (tx = 0, ++ty == g->th)) ty = 0, b++;
        if (t + 1 < t1) { /* the next tile's block of z, for writing: its lines miss */
            const int64_t rows = g->gh - 4 * ty < 4 ? g->gh - 4 * ty : 4;
            const int64_t cols = g->gw - 4 * tx < 4 ? g->gw - 4 * tx : 4;
            const char *z0 = (const char *)(z + ((b * g->gh + 4 * ty) * g->gw + 4 * tx) * N);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t o = 0; o < cols * N * (int64_t)sizeof(REAL); o += 64)
                    __builtin_prefetch(z0 + r * rs * (int64_t)sizeof(REAL) + o, 1, 3);
        }
        int cells = 0; /* bit e: cell e (wino2_tf_out's order) lies in the grid */
        for (int e = 0; e < 12; e++) {
            const int kind = e / 4, r = e % 4 / 2, s = e % 2;
            cells |= (y0 + 2 * r + (kind == 2) < g->gh && x0 + 2 * s + (kind == 1) < g->gw) << e;
        }
        int64_t c = 0;
        if (cells == 4095 && relu)
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino2_out_at)(zt, rs, N, 4095, M, at, bias, c, GEMM_VL, 1);
        else if (cells == 4095)
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino2_out_at)(zt, rs, N, 4095, M, at, bias, c, GEMM_VL, 0);
        else
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino2_out_at)(zt, rs, N, cells, M, at, bias, c, GEMM_VL, relu);
        if (c < N) FN(wino2_out_at)(zt, rs, N, cells, M, at, bias, c, N - c, relu);
    }
}

/* U (16 of (ic, np) in conv_pack's panels, zero past oc): the 15 groups' G-transformed kernels
   (see the top), then W[:, 1, 1, :] for the odd-odd phase. W (ic, 3, 3, oc). */
static void FN(wino2_pack)(REAL *restrict U, const REAL *restrict W, int64_t ic, int64_t oc) {
    const int64_t pw = FN(conv_pw)(oc, ic), np = FN(conv_npad)(oc, ic);
    for (int64_t n = 0; n < np; n++)
        for (int64_t k = 0; k < ic; k++) {
            REAL w[9] = {0}, u[16];
            for (int e = 0; e < 9 && n < oc; e++) w[e] = W[(k * 9 + e) * oc + n];
            /* h[a][b] = w[2 − 2a][2 − 2b]; G h: rows h[0], h[0] + h[1], h[1] */
            const REAL h00 = w[8], h01 = w[6], h10 = w[2], h11 = w[0];
            const REAL gy[3][2] = {{h00, h01}, {h00 + h10, h01 + h11}, {h10, h11}};
            for (int i = 0; i < 3; i++)
                u[3 * i] = gy[i][0], u[3 * i + 1] = gy[i][0] + gy[i][1], u[3 * i + 2] = gy[i][1];
            u[9] = w[7], u[10] = w[7] + w[1], u[11] = w[1];  /* eo: G (w[2][1], w[0][1]) */
            u[12] = w[5], u[13] = w[5] + w[3], u[14] = w[3]; /* oe: G (w[1][2], w[1][0]) */
            u[15] = w[4];
            for (int e = 0; e < 16; e++) U[e * ic * np + n / pw * pw * ic + k * pw + n % pw] = u[e];
        }
}

/* M[grp] (rows, N) = V[grp] (rows, K) · U[grp], the 15 groups of a piece of m tiles. */
static void FN(wino2_products)(REAL *M, const REAL *V, const REAL *U, const REAL *zb, int64_t m,
                               int64_t K, int64_t N, int64_t np) {
    int64_t ov[WINO2_G], om[WINO2_G];
    FN(wino2_offsets)(ov, m, K);
    FN(wino2_offsets)(om, m, N);
    for (int g = 0; g < WINO2_G; g++) {
        const FN(conv_src) s = {.img = V + ov[g], .gh = 1, .gw = FN(wino2_mult)(g) * m, .si = 0,
                                .sj = K, .rowlen = 0, .kh = 1, .run = K};
        FN(conv_fwd_sample)(M + om[g], 0, N, &s, U + g * K * np, zb, N, 0);
    }
}

typedef struct {
    const sia_layer *l;
    FN(wino2_plan) p;
    REAL *z;
    const REAL *in, *W, *U, *zb, *bp; /* the packed U, a zero bias, the bias in panels */
    REAL *slices;
    int64_t B, ntasks;
} FN(wino2_job);

static void FN(wino2_task)(void *ctx, int64_t i) {
    const FN(wino2_job) *j = ctx;
    const FN(wino2_geom) *g = &j->p.g;
    const int64_t ic = g->C, oc = g->N, np = j->p.np;
    REAL *V = FN(conv_aligned)(j->slices + i * j->p.slice);
    REAL *M = FN(conv_aligned)(V + j->p.buf), *pad = FN(conv_aligned)(M + j->p.buf);
    const int64_t Hp = j->p.Hp, Wp = j->p.Wp, n_pad = Hp * Wp * ic;
    const REAL *b = j->W + 9 * ic * oc;
    const int relu = j->l->act == SIA_RELU;
    const int64_t units = (j->B + j->p.unit - 1) / j->p.unit;
    int64_t s0 = sia_part_start(i, units, (int)j->ntasks) * j->p.unit;
    int64_t s1 = sia_part_start(i + 1, units, (int)j->ntasks) * j->p.unit;
    if (s1 > j->B) s1 = j->B;
    const int64_t n_in = g->H * g->W * ic, n_out = g->gh * g->gw * oc;
    /* the odd-odd phase's grid: odd rows and columns of z, pixels of the padded sample */
    const FN(conv_src) oo = {.gh = g->gh / 2, .gw = g->gw / 2, .si = Wp * ic, .sj = ic,
                             .rowlen = 0, .kh = 1, .run = ic};
    for (int64_t u = s0, ue; u < s1; u = ue) {
        ue = u + j->p.unit < s1 ? u + j->p.unit : s1;
        for (int64_t s = u; s < ue; s++)
            FN(conv_pad)(pad + (s - u) * n_pad, j->in + s * n_in, g->H, g->W, ic, Hp, Wp, 1, 1);
        WINO_FOR_PIECES(g, j->p.T, u, ue, t, m) {
            FN(wino2_in)(V, pad, g, Hp, Wp, t, t + m, u);
            FN(wino2_products)(M, V, j->U, j->zb, m, ic, oc, np);
            FN(wino2_out)(j->z, M, g, t, t + m, b, relu);
        }
        for (int64_t s = u; s < ue && oo.gh > 0 && oo.gw > 0; s++) {
            FN(conv_src) src = oo;
            src.img = pad + (s - u) * n_pad + (Wp + 1) * ic;
            FN(conv_fwd_sample)(j->z + s * n_out + (g->gw + 1) * oc, 2 * g->gw * oc, 2 * oc, &src,
                                j->U + WINO2_G * ic * np, j->bp, oc, relu);
        }
    }
}

/* Forward of a layer that wino2_fits, B > 0; scratch as sia_conv2d_scratch sized it (`shared`
   REALs, then the slices). */
static void FN(wino2_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, int64_t B,
                              REAL *scratch, int64_t shared, int nthreads) {
    FN(wino2_job) j = {.l = l, .p = FN(wino2_plan_for)(l), .z = z, .in = in, .W = W, .B = B};
    const int64_t ic = l->in_c, oc = l->out_c, np = j.p.np;
    REAL *U = scratch, *zb = U + 16 * ic * np, *bp = zb + np;
    FN(wino2_pack)(U, W, ic, oc);
    for (int64_t o = 0; o < np; o++) zb[o] = 0, bp[o] = o < oc ? W[9 * ic * oc + o] : 0;
    j.U = U, j.zb = zb, j.bp = bp;
    j.slices = scratch + shared;
    j.ntasks = FN(layer_ntasks)(B, j.p.unit, nthreads);
    sia_pool_run(nthreads, j.ntasks, FN(wino2_task), &j);
}

/* REALs of a task's slice for layer l (0 when it does not wino2_fits, -1 on overflow); *shared:
   those of the packed U and biases before the slices. */
static int64_t FN(wino2_scratch)(const sia_layer *l, int64_t *shared) {
    *shared = 0;
    if (!FN(wino2_fits)(l)) return 0;
    const FN(wino2_plan) p = FN(wino2_plan_for)(l);
    if (p.shared < 0) return -1;
    *shared = p.shared;
    return p.slice;
}

/* ---- the weight gradient of the 3 × 3 stride-2 layers by F(2, 2) ----
 *
 * Both kinds' dW is one correlation of a "small" image (h, w, Cs) with a "big" one padded as
 * conv.c's pb (Hp = 2h + 1, Wp = 2w + 1, Cb channels; zeros where the patches reach outside):
 *   dW[cs, ky, kx, cb] = Σ_{n, i, j} small[n, i, j, cs] big'[n, 2i + ky, 2j + kx, cb]
 *   Conv2D           small = dz (oh, ow, oc), big = in (ih, iw, ic): dW (oc, 3, 3, ic)
 *   Conv2DTranspose  small = in (ih, iw, ic), big = dz (oh, ow, oc): dW (ic, 3, 3, oc)
 * (Cs the small's channels, Cb the big's: W's first and last axes either way). In one dimension
 * the taps split by parity. The even ones, dW[2a'] = Σ_i x[i] e[i + a'] (a' < 2, e[m] = big'[2m]),
 * are over a tile of two small pixels h = (x[2t], x[2t + 1]) and d = e[2t .. 2t + 2] F(2, 2) with
 * the kernel's roles swapped (the small tile is the "filter", the taps the "outputs"):
 *   (dW[0], dW[2]) += Aᵀ [(G h) ⊙ (Bᵀ d)],  G h = (h0, h0 + h1, h1),  Bᵀ d = (d0 − d1, d1, d2 − d1),
 *   Aᵀ = [1 1 0; 0 1 1] (the forward's matrices above): 3 products where the direct way makes 4;
 * the odd tap dW[1] = Σ_i x[i] big'[2i + 1] stays direct, 2 products a tile. In two dimensions a
 * tile (ty, tx) is 2 × 2 small pixels X[r][s] and the 5 × 5 big' window P[u][v] at (4ty, 4tx):
 *   ee (a, b)  (G X Gᵀ)[a][b]  · (Bᵀ D B)[a][b],  D[k][l] = P[2k][2l]         groups 0 .. 8
 *   eo (a, s)  (G X)[a][s]     · (Bᵀ Do)[a][s],   Do[k][s] = P[2k][2s + 1]      groups 9 + a
 *   oe (r, b)  (X Gᵀ)[r][b]    · (Dd B)[r][b],    Dd[r][l] = P[2r + 1][2l]      groups 12 + b
 *   oo (r, s)  X[r][s]         · P[2r + 1][2s + 1]                              group 15
 * 9 + 6 + 6 + 4 = 25 products per tile and channel pair instead of 36, summed over every tile
 * of every sample before the kernel-side transform, which runs once at the end:
 *   dU[g] (Cs, Cb) += Xt[g]ᵀ Gt[g]   (rows: the tiles' values of group g, the products' K),
 *   dW = Aᵀ dU A on the even axes (wino2dw_unpack).
 * The K of a product is thousands of tiles: conv.c's dWᵀ tiles (conv_dw_sample) run it, the
 * rows of Xt as the patches, those of Gt (Cb padded with zeros to whole vectors) as dz. A tile
 * whose second row (column) of small pixels lies outside the image gives no rows to the values
 * that need it (a = 2, r = 1), so partial tiles cost what the direct way does, and never
 * multiply a value by a pixel that is not there.
 *
 * The tasks take units of whole samples as the direct paths do, each sample's din, db and the
 * ReLUs as conv_direct_backward_task makes them; then the unit's tiles in pieces of at most T
 * (Xt and Gt in L2), transformed and multiplied into the task's dU. Each element of dU is one
 * chain over the task's rows in order: dW depends on the shapes and the thread count alone
 * (the tasks' dU added in task order), and is the same on avx512 and avx2 (the transforms are
 * additions, the products conv_dw_sample's chains). */

/* WINO2DW_PIECE: REALs of a piece's Xt and Gt together at most (T tiles, 9 rows of Cs and 25 of Cbp). */
enum { WINO2DW_MIN_C = 32, WINO2DW_PIECE = 262144, WINO2DW_G = 16 };

/* Rows per tile of group g. */
static inline int64_t FN(wino2dw_mult)(int g) { return g < 9 ? 1 : g < 15 ? 2 : 4; }

/* Whether layer l's dW goes by F(2, 2) (its shapes alone; sia_winograd switches it off): both
   channel counts from WINO2DW_MIN_C, the big image's in whole 64-byte vectors (the products'
   dUᵀ tiles all zmm on avx512), and a small image of whole tiles (h, w even; partial tiles
   multiply zero rows). Measured (the whole backward, paired calls against the direct path, 1
   thread, float32, 128 images, AMD EPYC Zen 4 under a load of ~2.8 on its 2 cores):
   Conv2DTranspose 14 × 14 × 64 -> 32 (workload F's largest) 1.06×, 14 × 14 × 32 -> 32 1.02×,
   8 × 8 × 64 -> 64 1.11×, 6 × 6 × 48 -> 48 1.11×, 4 × 4 × 64 -> 64 1.25×; Conv2D 28 × 28 × 32 -> 64
   1.07×, 16 × 16 × 64 -> 64 1.09×, 16 × 16 × 48 -> 40 1.09×; Conv2DTranspose 10 × 10 × 33 -> 32
   'valid' 1.34× (33 channels: the direct dW by rows); but 24 channels 0.86-0.89×, a big image of
   40 channels 0.98×, and a 7 × 7 small image (F's other two, 16 tiles for 12.25) 0.95-1.0×. */
static int FN(wino2dw_fits)(const sia_layer *l) {
    const int t = l->kind == SIA_LAYER_CONV2D_T;
    const int64_t h = t ? l->in_h : l->out_h, w = t ? l->in_w : l->out_w;
    return (t || l->kind == SIA_LAYER_CONV2D) && l->kh == 3 && l->kw == 3 && l->sh == 2 && l->sw == 2 &&
           l->pad_t >= 0 && l->pad_l >= 0 && l->in_c >= WINO2DW_MIN_C && l->out_c >= WINO2DW_MIN_C &&
           (t ? l->out_c : l->in_c) % (2 * GEMM_VL) == 0 && h > 0 && w > 0 && h % 2 == 0 && w % 2 == 0 &&
           l->out_h > 0 && l->out_w > 0 && l->in_h > 0 && l->in_w > 0;
}

typedef struct {
    int64_t h, w, Cs;             /* the small image */
    int64_t Hp, Wp, Cb, Cbp;      /* the padded big image (pb), its channels, padded to VL */
    int64_t th, tw, P;            /* tiles of 2 × 2 small pixels, P a sample */
    int64_t T, unit;              /* tiles per piece at most; samples per unit */
    int64_t sb, sd, n_small;      /* REALs of a padded big image, of the din phases' padded image
                                     (Conv2D), of a sample's dz */
    int64_t ox, og, nu, zeros;    /* REALs of a piece's Xt, Gt; of dU and db; of the zero row */
    int64_t slice;                /* REALs of a task's slice */
} FN(wino2dw_plan);

/* The plan of layer l (wino2dw_fits) beside the direct plan p; -1 in slice on overflow. */
static FN(wino2dw_plan) FN(wino2dw_plan_for)(const sia_layer *l, const FN(conv_plan) *p) {
    FN(wino2dw_plan) q = {0};
    const int t = l->kind == SIA_LAYER_CONV2D_T;
    q.h = t ? l->in_h : l->out_h, q.w = t ? l->in_w : l->out_w, q.Cs = t ? l->in_c : l->out_c;
    q.Cb = p->pb.C, q.Hp = p->pb.Hp, q.Wp = p->pb.Wp;
    q.Cbp = (q.Cb + GEMM_VL - 1) / GEMM_VL * GEMM_VL;
    q.th = (q.h + 1) / 2, q.tw = (q.w + 1) / 2, q.P = q.th * q.tw;
    const int64_t per = 9 * q.Cs + 25 * q.Cbp;
    q.T = WINO2DW_PIECE / per > 8 ? WINO2DW_PIECE / per : 8;
    q.unit = q.T / q.P > 1 ? q.T / q.P : 1;
    q.sb = FN(conv_pimg_size)(&p->pb);
    q.sd = t ? 0 : FN(conv_pimg_size)(&p->ph.pad);
    q.n_small = l->out_h * l->out_w * l->out_c;
    q.zeros = (q.Cs > q.Cbp ? q.Cs : q.Cbp) + 2 * GEMM_VL;
    int64_t a, b, s;
    if (q.sb < 0 || q.sd < 0 || !sia_mul_ok(q.T, per, &a) || !sia_mul_ok(16 * q.Cs, q.Cbp, &q.nu) ||
        !sia_add_ok(q.nu, l->out_c, &q.nu) || !sia_add_ok(q.sb, CONV_ALIGN, &b) ||
        !sia_mul_ok(b, q.unit, &b) || !sia_mul_ok(q.n_small, q.unit, &s) || !sia_add_ok(s, b, &s) ||
        !sia_add_ok(s, q.sd, &s)) {
        q.slice = -1;
        return q;
    }
    q.ox = 9 * q.T * q.Cs, q.og = 25 * q.T * q.Cbp; /* no overflow: T·per is a */
    if (!sia_add_ok(s, q.ox + q.og, &s) || !sia_add_ok(s, q.nu + q.zeros + 8 * CONV_ALIGN, &q.slice))
        q.slice = -1;
    return q;
}

/* The group of value q of a tile (wino2dw_tf_small's order). */
static inline int FN(wino2dw_group)(int q) {
    return q < 9 ? q : q < 15 ? 9 + (q - 9) / 2 : q < 21 ? 12 + (q - 15) / 2 : 15;
}

/* The row of M = G X Gᵀ (wino2dw_tf_small) that is the small side of value q: ee (a, b) M[a][b],
   eo (a, s) M[a][2s], oe (r, b) M[2r][b], oo (r, s) M[2r][2s]. */
static inline int FN(wino2dw_mrow)(int q) {
    return q < 9 ? q : q < 15 ? 3 * ((q - 9) / 2) + 2 * ((q - 9) % 2)
           : q < 21 ? 6 * ((q - 15) % 2) + (q - 15) / 2 : 6 * ((q - 21) / 2) + 2 * ((q - 21) % 2);
}

/* The transforms (wino2dw_body.c), once per vector width, as conv.c's conv_body.c: 64 bytes for
   x86-64-v4, run when sia_simd is avx512, else 32 as GEMM_CLONES; additions lane by lane, so
   the same bits on both. */
#if GEMM_X86
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define W2_VBYTES 64
#define W2_SFX _avx512
#define W2_CLONES
#include "wino2dw_body.c"
#pragma GCC pop_options
#endif
#define W2_VBYTES 32
#define W2_SFX
#define W2_CLONES GEMM_CLONES
#include "wino2dw_body.c"

/* dW (Cs, 3, 3, Cb) [+]= the kernel-side transform of dU (16 of (Cs, Cbp)): Aᵀ on the even
   axes, the odd ones as they are. */
static void FN(wino2dw_unpack)(REAL *restrict dW, const REAL *restrict dU, int64_t Cs, int64_t Cb,
                               int64_t Cbp, int accumulate) {
    for (int64_t c = 0; c < Cs; c++)
        for (int64_t o = 0; o < Cb; o++) {
            REAL u[16], w[9];
            for (int g = 0; g < 16; g++) u[g] = dU[(g * Cs + c) * Cbp + o];
            for (int a = 0; a < 2; a++) {
                for (int b = 0; b < 2; b++) { /* ee: (Aᵀ U A)[a][b] */
                    const REAL r0 = u[3 * a + b] + u[3 * (a + 1) + b];
                    const REAL r1 = u[3 * a + b + 1] + u[3 * (a + 1) + b + 1];
                    w[6 * a + 2 * b] = r0 + r1;
                }
                w[6 * a + 1] = u[9 + a] + u[10 + a]; /* eo: (2a, 1) */
                w[3 + 2 * a] = u[12 + a] + u[13 + a]; /* oe: (1, 2a) */
            }
            w[4] = u[15];
            REAL *d = dW + c * 9 * Cb + o;
            for (int e = 0; e < 9; e++) d[e * Cb] = accumulate ? d[e * Cb] + w[e] : w[e];
        }
}

typedef struct {
    const FN(conv_job) *cj;
    FN(wino2dw_plan) q;
} FN(wino2dw_job);

/* Task i's buffers: the unit's padded big images (sbA apart), the din phases' padded image, the
   unit's dz through the ReLU's backward, the zero row, Xt, Gt; returns its dU (then db). */
static REAL *FN(wino2dw_slice)(const FN(wino2dw_job) *j, int64_t i, REAL **pads, REAL **padz,
                               REAL **dzm, REAL **zeros, REAL **Xt, REAL **Gt) {
    const FN(wino2dw_plan) *q = &j->q;
    const int64_t sbA = q->sb + CONV_ALIGN;
    REAL *s = FN(conv_aligned)(j->cj->scratch + i * q->slice);
    *pads = s;
    *padz = FN(conv_aligned)(s + q->unit * sbA);
    *dzm = FN(conv_aligned)(*padz + q->sd);
    *zeros = FN(conv_aligned)(*dzm + q->unit * q->n_small);
    *Xt = FN(conv_aligned)(*zeros + q->zeros);
    *Gt = FN(conv_aligned)(*Xt + q->ox);
    return FN(conv_aligned)(*Gt + q->og);
}

/* As conv_direct_backward_task, sample by sample: dz through the ReLU, db, din (the direct
 * ways), the ReLU of the layer below; then dU += the products of the unit's tiles (see above). */
static void FN(wino2dw_task)(void *ctx, int64_t i) {
    const FN(wino2dw_job) *j = ctx;
    const FN(conv_job) *cj = j->cj;
    const FN(conv_plan) *p = &cj->plan;
    const FN(wino2dw_plan) *q = &j->q;
    const sia_layer *l = cj->l;
    const int64_t ic = l->in_c, oc = l->out_c, n_in = l->in_h * l->in_w * ic, n_out = q->n_small;
    const int64_t sbA = q->sb + CONV_ALIGN;
    REAL *pads, *padz, *dzm, *zeros, *Xt, *Gt;
    REAL *dU = FN(wino2dw_slice)(j, i, &pads, &padz, &dzm, &zeros, &Xt, &Gt), *db = dU + 16 * q->Cs * q->Cbp;
    memset(dU, 0, (size_t)q->nu * sizeof(REAL));
    memset(zeros, 0, (size_t)q->zeros * sizeof(REAL));
    const int64_t units = (cj->B + q->unit - 1) / q->unit;
    int64_t s0 = sia_part_start(i, units, (int)cj->ntasks) * q->unit;
    int64_t s1 = sia_part_start(i + 1, units, (int)cj->ntasks) * q->unit;
    if (s1 > cj->B) s1 = cj->B;
    for (int64_t u = s0, ue; u < s1; u = ue) {
        ue = u + q->unit < s1 ? u + q->unit : s1;
        for (int64_t b = u; b < ue; b++) {
            const REAL *dz = cj->dz + b * n_out, *in = cj->in + b * n_in;
            if (cj->zr) {
                FN(conv_relu_grad)(dzm + (b - u) * n_out, dz, cj->zr + b * n_out, n_out);
                dz = dzm + (b - u) * n_out;
            }
            FN(conv_sum_rows)(db, dz, oc, 0, n_out / oc);
            REAL *din = cj->din ? cj->din + b * n_in : NULL;
            const FN(conv_src) s = FN(conv_pimg_src)(&p->pb, pads + (b - u) * sbA, p->t ? dz : in);
            if (din) FN(conv_din_sample)(cj, din, &s, padz, dz);
            if (din && cj->relu_below) FN(conv_relu_grad)(din, din, in, n_in);
        }
        const REAL *small = p->t ? cj->in + u * n_in : cj->zr ? dzm : cj->dz + u * n_out;
        WINO_FOR_PIECES(q, q->T, u, ue, t, m) {
#if GEMM_X86
            if (sia_simd_conv_bytes() == 64) FN(wino2dw_in_avx512)(Xt, Gt, small, pads, sbA, q, t, t + m, u, zeros);
            else
#endif
            FN(wino2dw_in)(Xt, Gt, small, pads, sbA, q, t, t + m, u, zeros);
            for (int e = 0; e < 25; e++) { /* value e's rows, 25 apart, into its group's dU */
                const FN(conv_src) s = {.img = Xt + FN(wino2dw_mrow)(e) * q->Cs, .gh = 1, .gw = m, .si = 0, .sj = 9 * q->Cs,
                                        .rowlen = 0, .kh = 1, .run = q->Cs};
                FN(conv_dw_sample)(dU + FN(wino2dw_group)(e) * q->Cs * q->Cbp, &s, Gt + e * q->Cbp,
                                   25 * q->Cbp, q->Cbp);
            }
        }
    }
}

/* Backward of a layer that wino2dw_fits on conv.c's direct plan, B > 0: din, and dW and db
   [+]= the tasks' partial sums in task order. cj: conv_backward's job (the packed din W in
   its shared part). */
static void FN(wino2dw_backward)(const FN(conv_job) *cj, REAL *dW, int accumulate, int nthreads) {
    FN(wino2dw_job) j = {.cj = cj, .q = FN(wino2dw_plan_for)(cj->l, &cj->plan)};
    FN(conv_job) c = *cj;
    c.ntasks = FN(layer_ntasks)(cj->B, j.q.unit, nthreads);
    j.cj = &c;
    sia_pool_run(nthreads, c.ntasks, FN(wino2dw_task), &j);
    REAL *pads, *padz, *dzm, *zeros, *Xt, *Gt, *sum = FN(wino2dw_slice)(&j, 0, &pads, &padz, &dzm, &zeros, &Xt, &Gt);
    for (int64_t t = 1; t < c.ntasks; t++) {
        const REAL *part = FN(wino2dw_slice)(&j, t, &pads, &padz, &dzm, &zeros, &Xt, &Gt);
        for (int64_t k = 0; k < j.q.nu; k++) sum[k] += part[k];
    }
    const int64_t oc = cj->l->out_c, nw = 9 * j.q.Cs * j.q.Cb;
    FN(wino2dw_unpack)(dW, sum, j.q.Cs, j.q.Cb, j.q.Cbp, accumulate);
    const REAL *db = sum + 16 * j.q.Cs * j.q.Cbp;
    for (int64_t o = 0; o < oc; o++) dW[nw + o] = accumulate ? dW[nw + o] + db[o] : db[o];
}

/* REALs of a task's slice for layer l's dW by F(2, 2) (0 when it does not wino2dw_fits, -1 on
   overflow). */
static int64_t FN(wino2dw_scratch)(const sia_layer *l) {
    if (!FN(wino2dw_fits)(l)) return 0;
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const FN(conv_plan) p = FN(conv_plan_for)(l, &g);
    if (p.shared < 0) return -1;
    return FN(wino2dw_plan_for)(l, &p).slice;
}
