/* winograd.c (template, see real.h): Conv2D with a 3 × 3 kernel at stride 1 by Winograd's
 * F(2 × 2, 3 × 3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
 * 16 multiplications for 2 × 2 outputs of one channel pair instead of 36. conv.c's forward and
 * backward come here for the layers that wino_fits (both channel counts large enough).
 *
 * Shapes (channels last, as conv.c): in (B, ih, iw, ic), W (oc, 3, 3, ic), b (oc), z (B, oh, ow, oc).
 * The output grid is cut into tiles of 2 × 2 cells; tile (ty, tx) of a sample reads the 4 × 4
 * window d of the input at (2ty − pt, 2tx − pl), zero outside the image (also past the last
 * row and column: odd grids end in partial tiles, whose cells outside the grid are not written).
 * With, for each channel pair (o, c), g = W[o, :, :, c] (3 × 3) and
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 *   Aᵀ = [1 1 1 0; 0 1 −1 −1],
 * the tile's 2 × 2 outputs are
 *   z[o] = b[o] + Aᵀ [ Σ_c U[o, c] ⊙ V[c] ] A,   U = G g Gᵀ (4 × 4),  V = Bᵀ d B (4 × 4),
 * that is, for each of the 16 positions ξ of the 4 × 4 tile, one product over the channels:
 *   M[ξ] (tiles, oc) = V[ξ] (tiles, ic) · U[ξ] (ic, oc).
 * Backward, forward being z = Aᵀ M A + b with M[ξ] = V[ξ] U[ξ]:
 *   dM = A dz Aᵀ (per tile, dz's 2 × 2 cells, zero outside the grid)
 *   dU[ξ] (ic, oc) += V[ξ]ᵀ dM[ξ]   (the products' K is the tiles),  dW = Gᵀ dU G,  db = Σ dz
 *   din = the convolution of dz, padded by (2 − pt, 2 − pl), with W flipped in space and its
 *         channels swapped (as conv.c's direct din), by the same forward routine with no bias.
 *
 * The batch runs in pieces of at most T tiles (wino_plan), whose V and M (16 planes each) stay
 * in L2: a piece is transformed in (wino_in), multiplied (16 products by conv.c's forward panel
 * kernel, U packed once per call as conv_pack packs W), transformed out (wino_out), before the
 * next. Tasks take units of whole samples as conv.c's do, each with its own slice of the
 * scratch (the piece's V and M, a zero row, a partial dU and db). Every output element is one
 * chain of operations whatever the pieces, so forward is bit-identical for any thread count;
 * dW and db add the tasks' partial sums in task order. */

/* Both channel counts from WINO_MIN_C on: below, the transforms cost more than the products
   save (1 thread, float32, 128 images, against the direct paths: 16 -> 16 channels on 14 × 14
   0.94× forward and backward together, 24 -> 24 1.40×, 32 -> 32 1.81×; on 7 × 7, whose 4 × 4
   tiles cover 64 cells for 49, 16 -> 16 0.92×, 32 -> 32 1.26×); oc a multiple of VL (the dU tiles
   of conv_dw_sample). WINO_PIECE: REALs of a piece's V (and of its M) at most, 128 KB in
   float32, so that both stay in L2 with U. */
enum { WINO_MIN_C = 24, WINO_PIECE = 32768 };

/* A convolution as the routines see it: images (H, W, C) in, grid (gh, gw) of N channels out,
   output (0, 0)'s window at input (−pt, −pl); tiles (th, tw), P of them a sample. */
typedef struct {
    int64_t H, W, C, gh, gw, N, pt, pl, th, tw, P;
} FN(wino_geom);

static FN(wino_geom) FN(wino_geom_of)(int64_t H, int64_t W, int64_t C, int64_t gh, int64_t gw,
                                      int64_t N, int64_t pt, int64_t pl) {
    const int64_t th = (gh + 1) / 2, tw = (gw + 1) / 2;
    return (FN(wino_geom)){.H = H, .W = W, .C = C, .gh = gh, .gw = gw, .N = N, .pt = pt, .pl = pl,
                           .th = th, .tw = tw, .P = th * tw};
}

/* Whether layer l can go by Winograd (its shapes alone; sia_winograd switches it off, sia.h). */
static int FN(wino_fits)(const sia_layer *l) {
    return l->kind == SIA_LAYER_CONV2D && l->kh == 3 && l->kw == 3 && l->sh == 1 && l->sw == 1 &&
           l->in_c >= WINO_MIN_C && l->out_c >= WINO_MIN_C && l->out_c % GEMM_VL == 0 &&
           l->out_h > 0 && l->out_w > 0;
}

/* The distance of the 16 planes of a piece's V, M or dM (m tiles, C channels): whole KB and one
   line more, so that a tile's 16 values of one channel vector fall in 16 different sets of L1
   (planes a power of two apart would all fall in one, and thrash its 8 ways). */
static int64_t FN(wino_ld)(int64_t m, int64_t C) {
    const int64_t kb = 1024 / (int64_t)sizeof(REAL);
    return (m * C + kb - 1) / kb * kb + 64 / (int64_t)sizeof(REAL);
}

/* The layout of a call: f the forward (and dW) convolution, d din's; U packed for each (16
   planes of (K, npad) panels, as conv_pack's), then a zero bias; a task's slice. */
typedef struct {
    FN(wino_geom) f, d;
    int64_t npf, npd;        /* the packed U's columns: oc, ic padded to panels */
    int64_t T, unit;         /* tiles per piece at most; samples per unit */
    int64_t buf;             /* REALs of a piece's V, and of its M: 16 planes of T × max(ic, oc) */
    int64_t zeros;           /* REALs of the zero row (max(ic, oc) and a vector) */
    int64_t shared, slice;   /* REALs of the packed U and zero bias; of a task's slice */
} FN(wino_plan);

/* The plan of layer l (wino_fits); -1 in shared on overflow. */
static FN(wino_plan) FN(wino_plan_for)(const sia_layer *l) {
    FN(wino_plan) p = {0};
    const int64_t ic = l->in_c, oc = l->out_c, cm = ic > oc ? ic : oc;
    p.f = FN(wino_geom_of)(l->in_h, l->in_w, ic, l->out_h, l->out_w, oc, l->pad_t, l->pad_l);
    p.d = FN(wino_geom_of)(l->out_h, l->out_w, oc, l->in_h, l->in_w, ic, 2 - l->pad_t, 2 - l->pad_l);
    p.npf = FN(conv_npad)(oc, ic), p.npd = FN(conv_npad)(ic, oc);
    p.T = WINO_PIECE / (16 * cm) > 8 ? WINO_PIECE / (16 * cm) : 8;
    p.unit = p.T / p.f.P > 1 ? p.T / p.f.P : 1;
    p.zeros = (cm + 2 * GEMM_VL) / GEMM_VL * GEMM_VL;
    int64_t a, b, w;
    if (!sia_mul_ok(p.T, cm, &p.buf) || !sia_add_ok(p.buf, 2048, &p.buf) ||
        !sia_mul_ok(16, FN(wino_ld)(p.buf, 1), &p.buf) || !sia_mul_ok(16 * ic, p.npf, &a) ||
        !sia_mul_ok(16 * oc, p.npd, &b) || !sia_add_ok(a, b, &p.shared) ||
        !sia_add_ok(p.shared, p.npf > p.npd ? p.npf : p.npd, &p.shared) ||
        !sia_mul_ok(16 * ic, oc, &w) || !sia_add_ok(w, oc, &w) || !sia_add_ok(w, 2 * p.buf, &w) ||
        !sia_add_ok(w, p.zeros + 4 * CONV_ALIGN, &p.slice))
        p.shared = -1;
    return p;
}

/* ---- the transforms, one tile at a time, vectors across the channels ---- */

/* d (4 × 4, row-major) <- Bᵀ d B. */
GEMM_INLINE void FN(wino_bt)(vreal *d) {
    for (int x = 0; x < 4; x++) { /* Bᵀ d: the columns */
        const vreal d0 = d[x], d1 = d[4 + x], d2 = d[8 + x], d3 = d[12 + x];
        d[x] = d0 - d2, d[4 + x] = d1 + d2, d[8 + x] = d2 - d1, d[12 + x] = d1 - d3;
    }
    for (int y = 0; y < 4; y++) { /* (Bᵀ d) B: the rows */
        vreal *r = d + 4 * y;
        const vreal d0 = r[0], d1 = r[1], d2 = r[2], d3 = r[3];
        r[0] = d0 - d2, r[1] = d1 + d2, r[2] = d2 - d1, r[3] = d1 - d3;
    }
}

/* m (4 × 4) -> y (2 × 2) = Aᵀ m A. */
GEMM_INLINE void FN(wino_at)(vreal *y, const vreal *m) {
    vreal s[8];
    for (int x = 0; x < 4; x++) { /* Aᵀ m: the columns */
        s[x] = m[x] + m[4 + x] + m[8 + x];
        s[4 + x] = m[4 + x] - m[8 + x] - m[12 + x];
    }
    for (int r = 0; r < 2; r++) { /* (Aᵀ m) A: the rows */
        y[2 * r] = s[4 * r] + s[4 * r + 1] + s[4 * r + 2];
        y[2 * r + 1] = s[4 * r + 1] - s[4 * r + 2] - s[4 * r + 3];
    }
}

/* y (2 × 2) -> m (4 × 4) = A y Aᵀ. */
GEMM_INLINE void FN(wino_a)(vreal *m, const vreal *y) {
    vreal s[8]; /* A y: (4 × 2) */
    for (int x = 0; x < 2; x++)
        s[x] = y[x], s[2 + x] = y[x] + y[2 + x], s[4 + x] = y[x] - y[2 + x], s[6 + x] = -y[2 + x];
    for (int r = 0; r < 4; r++) {
        const vreal a = s[2 * r], b = s[2 * r + 1];
        m[4 * r] = a, m[4 * r + 1] = a + b, m[4 * r + 2] = a - b, m[4 * r + 3] = -b;
    }
}

/* Tile t (numbered over the samples): its sample, and the grid cell of its first output. */
typedef struct {
    int64_t b, y, x;
} FN(wino_tile);

static inline FN(wino_tile) FN(wino_tile_at)(const FN(wino_geom) *g, int64_t t) {
    return (FN(wino_tile)){.b = t / g->P, .y = t % g->P / g->tw * 2, .x = t % g->tw * 2};
}
static inline void FN(wino_tile_next)(const FN(wino_geom) *g, FN(wino_tile) *a) {
    if ((a->x += 2) < 2 * g->tw) return;
    a->x = 0;
    if ((a->y += 2) < 2 * g->th) return;
    a->y = 0, a->b++;
}

/* p (n × n) = the cells (y + i, x + j) of image b of img (·, H, W, C), or zeros outside it. */
static inline void FN(wino_window)(const REAL **p, const REAL *img, int64_t H, int64_t W, int64_t C,
                                   int64_t b, int64_t y, int64_t x, int n, const REAL *zeros) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            p[n * i + j] = y + i >= 0 && y + i < H && x + j >= 0 && x + j < W
                               ? img + ((b * H + y + i) * W + x + j) * C : zeros;
}

/* Loads n < VL lanes of c, the others zero. */
GEMM_INLINE vreal FN(wino_load_part)(const REAL *c, int64_t n) {
    vreal v = {0};
    for (int l = 0; l < GEMM_VL; l++)
        if (l < n) v[l] = c[l];
    return v;
}
/* Loads n <= VL lanes of c, whole when n = VL. */
GEMM_INLINE vreal FN(wino_load)(const REAL *c, int64_t n) {
    if (n == GEMM_VL) return *(const vreal_u *)c;
    return FN(wino_load_part)(c, n);
}
GEMM_INLINE void FN(wino_store_part)(REAL *c, vreal v, int64_t n) {
    for (int l = 0; l < GEMM_VL; l++)
        if (l < n) c[l] = v[l];
}

/* d (the first n × n of 16) <- the 16 values of Bᵀ d B (n = 4) or of A d Aᵀ (n = 2). */
GEMM_INLINE void FN(wino_tf)(vreal *d, int n) {
    if (n == 4) {
        FN(wino_bt)(d);
        return;
    }
    const vreal y[4] = {d[0], d[1], d[2], d[3]};
    FN(wino_a)(d, y);
}

/* v[k·ld] (k < 16, m <= VL lanes) = the transform (wino_tf) of the n × n cells p[·] + c. */
GEMM_INLINE void FN(wino_tf_at)(REAL *v, int64_t ld, const REAL *const *p, int64_t c, int64_t m, int n) {
    vreal d[16];
    for (int k = 0; k < n * n; k++) d[k] = FN(wino_load)(p[k] + c, m);
    FN(wino_tf)(d, n);
    for (int k = 0; k < 16; k++) {
        if (m == GEMM_VL) *(vreal_u *)(v + k * ld) = d[k];
        else FN(wino_store_part)(v + k * ld, d[k], m);
    }
}

/* V (16 planes of (t1 − t0, ·), wino_ld apart) for tiles t0 .. t1−1 of g:
 *   dz = 0: Bᵀ d B, d the tile's 4 × 4 window of in (B, H, W, C);
 *   dz = 1: A d Aᵀ, d the tile's 2 × 2 output cells of dz (B, gh, gw, N).
 * The cells outside the image read zeros (C + VL of them). */
GEMM_CLONES
static void FN(wino_in)(REAL *restrict V, const REAL *restrict img, const FN(wino_geom) *g,
                        int64_t t0, int64_t t1, const REAL *restrict zeros, int dz) {
    const int n = dz ? 2 : 4;
    const int64_t H = dz ? g->gh : g->H, W = dz ? g->gw : g->W, C = dz ? g->N : g->C;
    const int64_t ld = FN(wino_ld)(t1 - t0, C), oy = dz ? 0 : g->pt, ox = dz ? 0 : g->pl;
    FN(wino_tile) a = FN(wino_tile_at)(g, t0);
    for (int64_t t = t0; t < t1; t++, FN(wino_tile_next)(g, &a)) {
        const REAL *p[16];
        FN(wino_window)(p, img, H, W, C, a.b, a.y - oy, a.x - ox, n, zeros);
        REAL *v = V + (t - t0) * C;
        int64_t c = 0;
        if (n == 4)
            for (; c + GEMM_VL <= C; c += GEMM_VL) FN(wino_tf_at)(v + c, ld, p, c, GEMM_VL, 4);
        else
            for (; c + GEMM_VL <= C; c += GEMM_VL) FN(wino_tf_at)(v + c, ld, p, c, GEMM_VL, 2);
        if (c < C) FN(wino_tf_at)(v + c, ld, p, c, C - c, n);
    }
}

/* q[k] + c (the cells k of `cells`, n <= VL lanes) = bias + (Aᵀ m A)[k] of the 16 m[k·ld] + c,
   through the ReLU if relu. */
GEMM_INLINE void FN(wino_out_at)(REAL *const *q, int cells, const REAL *m, int64_t ld,
                                 const REAL *bias, int64_t c, int64_t n, int relu) {
    vreal mv[16], y[4];
    for (int k = 0; k < 16; k++) mv[k] = FN(wino_load)(m + k * ld + c, n);
    FN(wino_at)(y, mv);
    const vreal bv = FN(wino_load)(bias + c, n);
    for (int k = 0; k < 4; k++) {
        if (!(cells >> k & 1)) continue;
        vreal v = y[k] + bv;
        if (relu) v = FN(conv_relu)(v);
        if (n == GEMM_VL) *(vreal_u *)(q[k] + c) = v;
        else FN(wino_store_part)(q[k] + c, v, n);
    }
}

/* z (B, gh, gw, N) cells of tiles t0 .. t1−1 = bias + Aᵀ M A, M 16 planes of (t1 − t0, N) (wino_ld apart),
   through the ReLU if relu; the cells outside the grid are not written. */
GEMM_CLONES
static void FN(wino_out)(REAL *restrict z, const REAL *restrict M, const FN(wino_geom) *g,
                         int64_t t0, int64_t t1, const REAL *restrict bias, int relu) {
    const int64_t N = g->N, ld = FN(wino_ld)(t1 - t0, N);
    FN(wino_tile) a = FN(wino_tile_at)(g, t0);
    for (int64_t t = t0; t < t1; t++, FN(wino_tile_next)(g, &a)) {
        REAL *q[4];
        int cells = 0; /* bit k: cell k of the tile lies in the grid */
        for (int k = 0; k < 4; k++) {
            const int64_t yy = a.y + k / 2, xx = a.x + k % 2;
            cells |= (yy < g->gh && xx < g->gw) << k;
            q[k] = z + ((a.b * g->gh + yy) * g->gw + xx) * N;
        }
        const REAL *m = M + (t - t0) * N;
        int64_t c = 0;
        if (cells == 15 && relu)
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino_out_at)(q, 15, m, ld, bias, c, GEMM_VL, 1);
        else if (cells == 15)
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino_out_at)(q, 15, m, ld, bias, c, GEMM_VL, 0);
        else
            for (; c + GEMM_VL <= N; c += GEMM_VL) FN(wino_out_at)(q, cells, m, ld, bias, c, GEMM_VL, relu);
        if (c < N) FN(wino_out_at)(q, cells, m, ld, bias, c, N - c, relu);
    }
}

/* U (16 planes of (K, npad) in conv_pack's panels, zero past N) = G g Gᵀ for each pair (n, k):
   forward (flip = 0: N = oc, K = ic) g = W[n, :, :, k]; din (flip = 1: N = ic, K = oc)
   g = W[k, 2 − ky, 2 − kx, n], the flipped kernel with its channels swapped. */
static void FN(wino_pack)(REAL *restrict U, const REAL *restrict W, int64_t N, int64_t K, int flip) {
    const int64_t pw = FN(conv_pw)(N, K), npad = FN(conv_npad)(N, K), ic = flip ? N : K;
    const REAL h = (REAL)0.5;
    for (int64_t n = 0; n < npad; n++)
        for (int64_t k = 0; k < K; k++) {
            REAL g[9] = {0}, r[12], u[16];
            for (int e = 0; e < 9 && n < N; e++)
                g[e] = flip ? W[(k * 9 + 8 - e) * ic + n] : W[(n * 9 + e) * ic + k];
            for (int x = 0; x < 3; x++) { /* G g (4 × 3) */
                r[x] = g[x], r[9 + x] = g[6 + x];
                r[3 + x] = (g[x] + g[3 + x] + g[6 + x]) * h;
                r[6 + x] = (g[x] - g[3 + x] + g[6 + x]) * h;
            }
            for (int y = 0; y < 4; y++) { /* (G g) Gᵀ (4 × 4) */
                const REAL *a = r + 3 * y;
                u[4 * y] = a[0], u[4 * y + 3] = a[2];
                u[4 * y + 1] = (a[0] + a[1] + a[2]) * h;
                u[4 * y + 2] = (a[0] - a[1] + a[2]) * h;
            }
            for (int xi = 0; xi < 16; xi++) U[xi * K * npad + n / pw * pw * K + k * pw + n % pw] = u[xi];
        }
}

/* dW (oc, 3, 3, ic) [+]= Gᵀ dU G, dU 16 planes of (ic, oc). */
static void FN(wino_unpack)(REAL *restrict dW, const REAL *restrict dU, int64_t ic, int64_t oc,
                            int accumulate) {
    const REAL h = (REAL)0.5;
    for (int64_t o = 0; o < oc; o++)
        for (int64_t c = 0; c < ic; c++) {
            REAL u[16], r[12], g[9];
            for (int xi = 0; xi < 16; xi++) u[xi] = dU[(xi * ic + c) * oc + o];
            for (int x = 0; x < 4; x++) { /* Gᵀ dU (3 × 4) */
                r[x] = u[x] + (u[4 + x] + u[8 + x]) * h;
                r[4 + x] = (u[4 + x] - u[8 + x]) * h;
                r[8 + x] = (u[4 + x] + u[8 + x]) * h + u[12 + x];
            }
            for (int y = 0; y < 3; y++) { /* (Gᵀ dU) G (3 × 3) */
                const REAL *a = r + 4 * y;
                g[3 * y] = a[0] + (a[1] + a[2]) * h;
                g[3 * y + 1] = (a[1] - a[2]) * h;
                g[3 * y + 2] = (a[1] + a[2]) * h + a[3];
            }
            REAL *w = dW + o * 9 * ic + c;
            for (int e = 0; e < 9; e++) w[e * ic] = accumulate ? w[e * ic] + g[e] : g[e];
        }
}

/* M[ξ] (m, N) = V[ξ] (m, K) · U[ξ] for the 16 ξ: conv.c's forward panel kernel, each V row one
   "patch" of K values. */
static void FN(wino_products)(REAL *M, const REAL *V, const REAL *U, const REAL *zb, int64_t m,
                              int64_t K, int64_t N, int64_t npad) {
    const int64_t lv = FN(wino_ld)(m, K), lm = FN(wino_ld)(m, N);
    for (int xi = 0; xi < 16; xi++) {
        const FN(conv_src) s = {.img = V + xi * lv, .gh = 1, .gw = m, .si = 0, .sj = K,
                                .rowlen = 0, .kh = 1, .run = K};
        FN(conv_fwd_sample)(M + xi * lm, 0, N, &s, U + xi * K * npad, zb, N, 0);
    }
}

/* ---- the tasks ---- */

typedef struct {
    const sia_layer *l;
    FN(wino_plan) p;
    REAL *z, *din;
    const REAL *in, *dz, *W;
    const REAL *Uf, *Ud, *zb; /* the packed U of forward and of din, a zero bias */
    REAL *slices;
    int64_t B, ntasks;
} FN(wino_job);

/* Task i's buffers: V, M, the zero row, then its partial dU (16 planes of (ic, oc)) and db. */
static REAL *FN(wino_slice)(const FN(wino_job) *j, int64_t i, REAL **V, REAL **M, REAL **zeros) {
    REAL *s = FN(conv_aligned)(j->slices + i * j->p.slice);
    *V = s;
    *M = FN(conv_aligned)(s + j->p.buf);
    *zeros = FN(conv_aligned)(*M + j->p.buf);
    return FN(conv_aligned)(*zeros + j->p.zeros);
}

static void FN(wino_task_samples)(const FN(wino_job) *j, int64_t i, int64_t *s0, int64_t *s1) {
    const int64_t units = (j->B + j->p.unit - 1) / j->p.unit;
    *s0 = sia_part_start(i, units, (int)j->ntasks) * j->p.unit;
    *s1 = sia_part_start(i + 1, units, (int)j->ntasks) * j->p.unit;
    if (*s1 > j->B) *s1 = j->B;
}

/* The pieces of the tiles of samples [u, ue) of g: tiles [t, t + m) each, as even as can be. */
#define WINO_FOR_PIECES(g, T, u, ue, t, m)                                                     \
    for (int64_t n_ = ((ue) - (u)) * (g)->P, np_ = (n_ + (T) - 1) / (T), k_ = 0,              \
                 t = (u) * (g)->P, m = n_ / np_ + (0 < n_ % np_);                              \
         k_ < np_; t += m, k_++, m = n_ / np_ + (k_ < n_ % np_))

/* The units of samples [s0, s1): samples [u, ue) each. */
#define WINO_FOR_UNITS(j, s0, s1, u, ue)                                                      \
    for (int64_t u = s0, ue = s0 + (j)->p.unit < s1 ? s0 + (j)->p.unit : s1; u < s1;           \
         u = ue, ue = u + (j)->p.unit < s1 ? u + (j)->p.unit : s1)

/* The convolution (routine of g) of the samples [u, ue) of src into dst, with U packed (K, npad),
   bias and relu: each piece transformed in, multiplied, transformed out. */
static void FN(wino_conv)(REAL *dst, const REAL *src, const FN(wino_geom) *g, const REAL *U,
                          int64_t npad, const REAL *bias, int relu, const FN(wino_job) *j,
                          REAL *V, REAL *M, const REAL *zeros, int64_t u, int64_t ue) {
    WINO_FOR_PIECES(g, j->p.T, u, ue, t, m) {
        FN(wino_in)(V, src, g, t, t + m, zeros, 0);
        FN(wino_products)(M, V, U, j->zb, m, g->C, g->N, npad);
        FN(wino_out)(dst, M, g, t, t + m, bias, relu);
    }
}

static void FN(wino_forward_task)(void *ctx, int64_t i) {
    const FN(wino_job) *j = ctx;
    REAL *V, *M, *zeros;
    FN(wino_slice)(j, i, &V, &M, &zeros);
    memset(zeros, 0, (size_t)j->p.zeros * sizeof(REAL));
    const REAL *b = j->W + j->l->out_c * 9 * j->l->in_c;
    int64_t s0, s1;
    FN(wino_task_samples)(j, i, &s0, &s1);
    WINO_FOR_UNITS(j, s0, s1, u, ue)
        FN(wino_conv)(j->z, j->in, &j->p.f, j->Uf, j->p.npf, b, j->l->act == SIA_RELU, j, V, M, zeros, u, ue);
}

/* Forward was z = Aᵀ M A + b, M[ξ] = V[ξ] U[ξ] (see the top), so per piece of tiles
 *   dM = A dz Aᵀ,  dU[ξ] += V[ξ]ᵀ dM[ξ]   (conv_dw_sample: V's rows are the patches)
 *   db += Σ dz;   din = the flipped convolution of dz (wino_conv with the din plan). */
static void FN(wino_backward_task)(void *ctx, int64_t i) {
    const FN(wino_job) *j = ctx;
    const sia_layer *l = j->l;
    const int64_t ic = l->in_c, oc = l->out_c, n_out = l->out_h * l->out_w * oc;
    REAL *V, *M, *zeros;
    REAL *dU = FN(wino_slice)(j, i, &V, &M, &zeros), *db = dU + 16 * ic * oc;
    memset(zeros, 0, (size_t)j->p.zeros * sizeof(REAL));
    memset(dU, 0, (size_t)(16 * ic * oc + oc) * sizeof(REAL));
    const FN(wino_geom) *f = &j->p.f;
    int64_t s0, s1;
    FN(wino_task_samples)(j, i, &s0, &s1);
    FN(conv_sum_rows)(db, j->dz, oc, s0 * n_out / oc, s1 * n_out / oc);
    WINO_FOR_UNITS(j, s0, s1, u, ue) {
        WINO_FOR_PIECES(f, j->p.T, u, ue, t, m) {
            FN(wino_in)(V, j->in, f, t, t + m, zeros, 0);
            FN(wino_in)(M, j->dz, f, t, t + m, zeros, 1);
            const int64_t lv = FN(wino_ld)(m, ic), lm = FN(wino_ld)(m, oc);
            for (int xi = 0; xi < 16; xi++) {
                const FN(conv_src) s = {.img = V + xi * lv, .gh = 1, .gw = m, .si = 0,
                                        .sj = ic, .rowlen = 0, .kh = 1, .run = ic};
                FN(conv_dw_sample)(dU + xi * ic * oc, &s, M + xi * lm, oc, oc);
            }
        }
        if (j->din) FN(wino_conv)(j->din, j->dz, &j->p.d, j->Ud, j->p.npd, j->zb, 0, j, V, M, zeros, u, ue);
    }
}

/* The job of one call on B samples; scratch as sia_conv2d_scratch sized it (the shared part of
   `shared` REALs, then the slices). */
static FN(wino_job) FN(wino_job_for)(const sia_layer *l, int64_t B, REAL *scratch, int64_t shared,
                                     int nthreads) {
    FN(wino_job) j = {.l = l, .p = FN(wino_plan_for)(l), .B = B};
    REAL *u = scratch;
    j.Uf = u;
    j.Ud = u + 16 * l->in_c * j.p.npf;
    j.zb = j.Ud + 16 * l->out_c * j.p.npd;
    j.slices = scratch + shared;
    j.ntasks = FN(layer_ntasks)(B, j.p.unit, nthreads);
    return j;
}

/* Forward of a layer that wino_fits, B > 0. */
static void FN(wino_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, int64_t B,
                             REAL *scratch, int64_t shared, int nthreads) {
    FN(wino_job) j = FN(wino_job_for)(l, B, scratch, shared, nthreads);
    j.z = z, j.in = in, j.W = W;
    FN(wino_pack)((REAL *)j.Uf, W, l->out_c, l->in_c, 0);
    memset((REAL *)j.zb, 0, (size_t)(j.p.npf > j.p.npd ? j.p.npf : j.p.npd) * sizeof(REAL));
    sia_pool_run(nthreads, j.ntasks, FN(wino_forward_task), &j);
}

/* Backward of a layer that wino_fits, B > 0: dW and db [+]= the tasks' partial sums in task
   order, din written unless NULL. */
static void FN(wino_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                              const REAL *W, int64_t B, REAL *scratch, int64_t shared,
                              int accumulate, int nthreads) {
    FN(wino_job) j = FN(wino_job_for)(l, B, scratch, shared, nthreads);
    const int64_t ic = l->in_c, oc = l->out_c, n = 16 * ic * oc + oc;
    j.din = din, j.dz = dz, j.in = in, j.W = W;
    if (din) FN(wino_pack)((REAL *)j.Ud, W, ic, oc, 1);
    memset((REAL *)j.zb, 0, (size_t)(j.p.npf > j.p.npd ? j.p.npf : j.p.npd) * sizeof(REAL));
    sia_pool_run(nthreads, j.ntasks, FN(wino_backward_task), &j);
    REAL *V, *M, *zeros, *sum = FN(wino_slice)(&j, 0, &V, &M, &zeros);
    for (int64_t t = 1; t < j.ntasks; t++) {
        const REAL *part = FN(wino_slice)(&j, t, &V, &M, &zeros);
        for (int64_t k = 0; k < n; k++) sum[k] += part[k];
    }
    FN(wino_unpack)(dW, sum, ic, oc, accumulate);
    REAL *db = dW + oc * 9 * ic;
    for (int64_t o = 0; o < oc; o++) db[o] = accumulate ? db[o] + sum[n - oc + o] : sum[n - oc + o];
}

/* REALs of a task's slice for layer l (0 when it does not wino_fits, -1 on overflow); *shared:
   those of the packed U and zero bias before the slices. */
static int64_t FN(wino_scratch)(const sia_layer *l, int64_t *shared) {
    *shared = 0;
    if (!FN(wino_fits)(l)) return 0;
    const FN(wino_plan) p = FN(wino_plan_for)(l);
    if (p.shared < 0) return -1;
    *shared = p.shared;
    return p.slice;
}
