/* conv.c (template, see real.h): Conv2D and Conv2DTranspose, by direct convolutions where they
 * apply (below: the direct paths, conv_plan_for), else as im2col + sia_gemm.
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
enum { CONV_OUTER_OC = 4, CONV_DOT1_KW = 5 };

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

/* ---- the direct paths of Conv2D: no im2col rows ----
 *
 * Each sample's big image is first copied into a padded one (Hp, Wp, C), zero where the patches
 * reach outside the image, so that every patch lies inside: patch (i, j) starts at
 * (i·sh·Wp + j·sw)·C, and its row ky is the run of kw·C values at ky·Wp·C from there. (The
 * copy is a ninth of the im2col rows' size for a 3 × 3 kernel, and stays in L1 or L2.) The
 * micro-kernels then read the patches in place:
 *   forward  z tile (mr patches, nv vectors of output channels) = b + Σ_k patch[k] Wp[k, :]
 *            (Wp: W packed once per call in panels of nv·VL output channels, as gemm packs
 *            B; the broadcast patch values are read where they lie);
 *   dW       (oc a multiple of VL) dWᵀ tile (mr k, nv vectors of o) += Σ_p patch_p[k] dz[p, o];
 *            (fewer channels) dW row o, up to 12 vectors of one run's k, += Σ_p dz[p, o] patch_p[k..];
 *   din      the forward's kernel again, phase by phase (conv_phases): at stride 1 din is the
 *            convolution of dz, padded by (kh − 1 − pt, kw − 1 − pl), with W flipped in space
 *            and its channels swapped, W'[c, ky, kx, o] = W[o, kh−1−ky, kw−1−kx, c]; at stride
 *            s each of the s² parity classes of din is such a convolution with its own taps.
 *            Each din element is written once, as a sum of its own, instead of col2im's
 *            scattered additions into zeroed memory. Conv2DTranspose's forward is the same
 *            scatter (of its input through its W).
 * A tile's accumulators stay in registers over the whole reduction (k for forward, the sample's
 * patches for dW), each element one chain in a fixed order: the tiles depend on the shapes
 * alone, so forward is bit-identical for any thread count, and dW adds the samples in order.
 * The tiles are written once (conv_body.c) over a vector width: 64 bytes (zmm) when sia_simd is
 * avx512, where a tile's two vectors are two adjacent panels of the same packed W, else 32
 * (ymm); each element's chain is the same on both, and so are the bits. */

enum { CONV_TILE = 12 }; /* patches (or k) of a tile at most: 12 × 1 or 6 × 2 ymm accumulators */

/* One output channel with runs of at least VL: the dot kernel (conv_dot_sample), W packed as
   one plain row. Otherwise output channels in panels of pw lanes: one vector when there are at
   most VL, else two; npad columns in all. */
static int FN(conv_dot)(int64_t N, int64_t run) { return N == 1 && run >= GEMM_VL; }
static int64_t FN(conv_pw)(int64_t N, int64_t run) {
    return FN(conv_dot)(N, run) ? 1 : N > GEMM_VL ? 2 * GEMM_VL : GEMM_VL;
}
static int64_t FN(conv_npad)(int64_t N, int64_t run) {
    const int64_t pw = FN(conv_pw)(N, run);
    return (N + pw - 1) / pw * pw;
}

/* pad (Hp, Wp, C) = big (H, W, C) of one sample moved down by pt and right by pl, zero elsewhere. */
static void FN(conv_pad)(REAL *restrict pad, const REAL *restrict big, int64_t H, int64_t W, int64_t C,
                         int64_t Hp, int64_t Wp, int64_t pt, int64_t pl) {
    const int64_t lo = pl < 0 ? 0 : pl > Wp ? Wp : pl, hi0 = pl + W, hi = hi0 < lo ? lo : hi0 > Wp ? Wp : hi0;
    for (int64_t y = 0; y < Hp; y++, pad += Wp * C) {
        const int64_t sy = y - pt;
        if (sy < 0 || sy >= H) {
            memset(pad, 0, (size_t)(Wp * C) * sizeof(REAL));
            continue;
        }
        memset(pad, 0, (size_t)(lo * C) * sizeof(REAL));
        memcpy(pad + lo * C, big + (sy * W + lo - pl) * C, (size_t)((hi - lo) * C) * sizeof(REAL));
        memset(pad + hi * C, 0, (size_t)((Wp - hi) * C) * sizeof(REAL));
    }
}

/* One convolution of a padded sample, as the micro-kernels see it: patch (i, j) of the grid
   (gh, gw) at img + i·si + j·sj, its rows ky at + ky·rowlen, each a run of `run` values. */
typedef struct {
    const REAL *img;
    int64_t gh, gw, si, sj, rowlen, kh, run;
} FN(conv_src);

/* A padded image of the direct paths: each sample's (H, W, C) moved down t and right l into
   (Hp, Wp, C), just large enough for the grid (gh, gw) of kh × kw patches at strides (sh, sw). */
typedef struct {
    int64_t H, W, C, t, l, gh, gw, sh, sw, kh, kw, Hp, Wp;
} FN(conv_pimg);

/* dzm (n,) = dz · [z > 0], the ReLU's backward from its output z, as a multiply (0 · NaN stays
   NaN), the same bits as the engine's pass (net.c's act_grad_scale). dzm may be dz (in place:
   each element is read before it is written). */
GEMM_CLONES
static void FN(conv_relu_grad)(REAL *dzm, const REAL *dz, const REAL *restrict z, int64_t n) {
    typedef int64_t vmask __attribute__((vector_size(sizeof(vreal))));
    const vreal one = (vreal){0} + 1;
    int64_t i = 0;
    for (; i + GEMM_VL <= n; i += GEMM_VL) {
        const vmask on = (vmask)(*(const vreal_u *)(z + i) > (vreal){0});
        *(vreal_u *)(dzm + i) = *(const vreal_u *)(dz + i) * (vreal)(on & (vmask)one);
    }
    for (; i < n; i++) dzm[i] = dz[i] * (REAL)(z[i] > 0);
}

/* The patch pointers of mr patches from (*i, *j) on, which they advance, and their outputs'
   z + i·zi + j·zj. */
GEMM_INLINE void FN(conv_tile_ptrs)(const REAL **ar, REAL **zr, const FN(conv_src) *s, REAL *z,
                                    int64_t zi, int64_t zj, int64_t *i, int64_t *j, int mr) {
    const REAL *a = s->img + *i * s->si + *j * s->sj; /* stepped along the row, not multiplied */
    REAL *o = z + *i * zi + *j * zj;
    for (int r = 0; r < mr; r++) {
        ar[r] = a, zr[r] = o;
        if (++*j == s->gw) *j = 0, ++*i, a = s->img + *i * s->si, o = z + *i * zi;
        else a += s->sj, o += zj;
    }
}

/* Prefetches for writing the outputs of the mr patches from (i, j) on, nc values at
   z + i·zi + j·zj each: the tile after the one being computed. The phases of a strided scatter
   (conv_phased_sample) write rows and columns sh and sw apart, lines that the hardware
   prefetchers do not foresee: without, each tile waited on the misses of its stores (F's
   7x7x64 -> 14x14x64 Conv2DTranspose forward, 128 images: 20% of the time outside the tiles'
   loops, 8% for 16 images). Outputs side by side (stride 1) are left to the hardware: there the
   prefetches cost E's short tiles 5%. */
GEMM_INLINE void FN(conv_prefetch_out)(REAL *z, int64_t zi, int64_t zj, int64_t gw, int64_t i,
                                       int64_t j, int mr, int64_t nc) {
    for (int r = 0; r < mr; r++) {
        const REAL *o = z + i * zi + j * zj;
        for (int64_t k = 0; k < nc; k += 64 / (int64_t)sizeof(REAL)) __builtin_prefetch(o + k, 1, 3);
        __builtin_prefetch(o + nc - 1, 1, 3); /* the last line, when o is not on a line */
        if (++j == gw) j = 0, ++i;
    }
}

/* Rows of the tiles of n rows, at most `most` each, of even heights: tile t has low + (t < taller). */
static void FN(conv_tiles)(int64_t n, int most, int64_t *nt, int64_t *low, int64_t *taller) {
    *nt = (n + most - 1) / most;
    *low = n / *nt;
    *taller = n % *nt;
}

/* The panel micro-kernels (conv_body.c), once per vector width: 64 bytes for x86-64-v4, run
   when sia_simd is avx512 (SIA_SIMD narrows them as it narrows the product); 32 bytes as
   GEMM_CLONES for avx2 and the baseline. Both take W as conv_pack packs it (panels of the
   32-byte vector's VL or 2·VL lanes), and give the same bits. So does the one-channel forward
   from the image itself (conv_dot1_image), whose 64-byte accumulator holds the two 32-byte ones
   of a patch and folds them in the same tree. The other kernels of this file stay 32-byte on
   every path: the dot kernel on the padded image (conv_dot_sample) folds its lanes, an order that
   depends on the width; conv_dwk_micro reads whole vectors into the padded image's slack of VL;
   conv_dwk3_image in 64-byte vectors has half the chains (3·nc) and ran 2-4% slower (D's and
   E's last layers, AMD EPYC Zen 4); for one output channel at stride 1 over one or two 64-byte
   vectors of channels, conv_dw33_image (conv_body.c) makes its sums instead, the whole 3 × 3 dW
   in 9·nc zmm accumulators over one pass of the image (D's last layer's backward 1.23x). */
#if GEMM_X86
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define CONV_VBYTES 64
#define CONV_SFX _avx512
#define CONV_CLONES
#include "conv_body.c"
#pragma GCC pop_options
#endif
#define CONV_VBYTES 32
#define CONV_SFX
#define CONV_CLONES GEMM_CLONES
#include "conv_body.c"

/* One output channel from the image itself (conv_body.c's conv_dot1_image): column stride 1,
   whole vectors of channels, a kernel at most CONV_DOT1_KW wide; at least 4 patches of a row
   inside the image, and at most kw − 1 at either end that reach outside it. */
static int FN(conv_dot1_fits)(const FN(conv_pimg) *p, int64_t N) {
    const int64_t jhi0 = p->W - p->kw + p->l + 1, jhi = jhi0 < p->gw ? jhi0 : p->gw;
    return N == 1 && p->sw == 1 && p->C % GEMM_VL == 0 && p->kw <= CONV_DOT1_KW && p->l >= 0 &&
           p->l < p->kw && jhi - p->l >= 4 && p->gw - jhi < p->kw;
}

/* z (gh, gw) = b + the convolution of img (H, W, C) itself with w (kh, kw, C), as p places the
   patches; through the ReLU if relu. On avx512, the 64-byte kernel when the channels make whole
   pairs of 32-byte vectors (its accumulators are their pairs); the same bits either way. */
static void FN(conv_dot1_sample)(REAL *z, const REAL *img, const FN(conv_pimg) *p, const REAL *w,
                                 REAL b, int relu) {
#if GEMM_X86
    if (sia_simd_conv_bytes() == 64 && p->C % (2 * GEMM_VL) == 0) {
        FN(conv_dot1_image_avx512)(z, img, p, w, b, relu);
        return;
    }
#endif
    FN(conv_dot1_image)(z, img, p, w, b, relu);
}

/* z of one sample, the N values of patch (i, j) at z + i·zi + j·zj, = b + the convolution of s
   with Wp (N panels, see conv_pack), bp (npad,) the bias in panels (zeros for none); through the
   ReLU if relu. On avx512, panels of 2·VL (one 64-byte vector each) go to the 64-byte kernels. */
static void FN(conv_fwd_sample)(REAL *z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                                const REAL *Wp, const REAL *bp, int64_t N, int relu) {
#if GEMM_X86
    if (sia_simd_conv_bytes() == 64 && FN(conv_pw)(N, s->run) == 2 * GEMM_VL) {
        if (FN(conv_k9_fits_avx512)(s, N)) FN(conv_k9_sample_avx512)(z, zi, zj, s, Wp, bp, N, relu);
        else FN(conv_fwd_panels_avx512)(z, zi, zj, s, Wp, bp, N, relu);
        return;
    }
#endif
    FN(conv_fwd_panels)(z, zi, zj, s, Wp, bp, N, relu);
}

/* dWᵀ (K, oc) += Σ_p patch_pᵀ dz[p, :] over one sample (dz's rows ldz apart), oc a multiple of VL. On avx512, the
   columns that make whole 64-byte vectors go to the 64-byte kernels, the rest (one 32-byte
   vector) to the 32-byte ones. */
static void FN(conv_dw_sample)(REAL *dwt, const FN(conv_src) *s, const REAL *dz, int64_t ldz, int64_t oc) {
    int64_t o = 0;
#if GEMM_X86
    if (sia_simd_conv_bytes() == 64) {
        o = oc / (2 * GEMM_VL) * (2 * GEMM_VL);
        if (o && ldz == oc && FN(conv_dw9_fits_avx512)(s)) FN(conv_dw9_sample_avx512)(dwt, s, dz, oc, o);
        else if (o) FN(conv_dw_tiles_avx512)(dwt, s, dz, ldz, oc, 0, o);
    }
#endif
    if (o < oc) FN(conv_dw_tiles)(dwt, s, dz, ldz, oc, o, oc);
}

/* z of one sample (patch (i, j)'s at z + i·zi + j·zj) = b + patch · w, for one output channel with runs of at
   least VL: VL patches at a time, their VL dot products with w (K,) at once (runs of whole
   vectors: VL vectors of partial sums over all of them, folded once; else gemm_dot_rows, one run
   ky after the other); a last group of fewer patches ends at the last one. */
GEMM_CLONES
static void FN(conv_dot_sample)(REAL *restrict z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                                const REAL *restrict w, REAL b, int relu) {
    const int64_t P = s->gh * s->gw;
    for (int64_t q = 0; q < P; q += GEMM_VL) {
        const int64_t q0 = q + GEMM_VL <= P ? q : (P >= GEMM_VL ? P - GEMM_VL : 0);
        const REAL *ar[GEMM_VL];
        for (int r = 0; r < GEMM_VL; r++) {
            const int64_t p = q0 + r < P ? q0 + r : P - 1;
            ar[r] = s->img + p / s->gw * s->si + p % s->gw * s->sj;
        }
        vreal acc = {0};
        if (s->run % GEMM_VL == 0) { /* whole vectors: VL partial sums over every run, one fold */
            vreal v[GEMM_VL];
            for (int r = 0; r < GEMM_VL; r++) v[r] = (vreal){0};
            for (int64_t ky = 0; ky < s->kh; ky++) {
                const REAL *wk = w + ky * s->run;
                const int64_t off = ky * s->rowlen;
                for (int64_t t = 0; t < s->run; t += GEMM_VL) {
                    const vreal x = *(const vreal_u *)(wk + t);
                    for (int r = 0; r < GEMM_VL; r++) v[r] += *(const vreal_u *)(ar[r] + off + t) * x;
                }
            }
            acc = gemm_fold(v);
        } else
            for (int64_t ky = 0; ky < s->kh; ky++) {
                const REAL *rows[GEMM_VL];
                for (int r = 0; r < GEMM_VL; r++) rows[r] = ar[r] + ky * s->rowlen;
                const REAL *wk = w + ky * s->run;
                acc += gemm_dot_rows(rows, wk, gemm_tail_x(wk, s->run), s->run);
            }
        for (int64_t r = q - q0; r < GEMM_VL && q0 + r < P; r++) {
            const REAL v = b + acc[r];
            z[(q0 + r) / s->gw * zi + (q0 + r) % s->gw * zj] = relu ? (v > 0 ? v : 0) : v;
        }
    }
}

/* z of one sample (patch (i, j)'s N values at z + i·zi + j·zj): the panel kernel, or the dot
   kernel for one output channel. */
static void FN(conv_direct_sample)(REAL *z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                                   const REAL *Wp, const REAL *bp, int64_t N, int relu) {
    if (FN(conv_dot)(N, s->run)) FN(conv_dot_sample)(z, zi, zj, s, Wp, bp[0], relu);
    else FN(conv_fwd_sample)(z, zi, zj, s, Wp, bp, N, relu);
}

/* dW row segment: nq vectors of k (from the patch's run offset off on, whole vectors, the last
   cut to the run's n values) += Σ_p dz[p] patch_p[off ..]. Whole vectors read past the run
   into the padded image (conv_pad's slack at the end); those lanes are never stored. */
GEMM_INLINE void FN(conv_dwk_micro)(REAL *restrict dw, int64_t n, const FN(conv_src) *s, int64_t off,
                                    const REAL *restrict dz, int64_t ldz, const int nq) {
    vreal acc[CONV_TILE];
    for (int q = 0; q < nq; q++) acc[q] = (vreal){0};
    for (int64_t i = 0; i < s->gh; i++) {
        const REAL *a = s->img + i * s->si + off;
        for (int64_t j = 0; j < s->gw; j++, a += s->sj, dz += ldz) {
            const REAL d = *dz;
            for (int q = 0; q < nq; q++) acc[q] += d * *(const vreal_u *)(a + q * GEMM_VL);
        }
    }
    for (int q = 0; q < nq; q++)
        for (int l = 0; l < GEMM_VL; l++)
            if (q * GEMM_VL + l < n) dw[q * GEMM_VL + l] += acc[q][l];
}

/* dW (oc, K) += Σ_p dz[p, o] patch_p over one sample, for few output channels: each row o, each
   run ky, in segments of up to CONV_TILE vectors. */
GEMM_CLONES
static void FN(conv_dwk_sample)(REAL *restrict dw, const FN(conv_src) *s, const REAL *restrict dz,
                                int64_t oc) {
    const int64_t K = s->kh * s->run, nvec = (s->run + GEMM_VL - 1) / GEMM_VL;
    for (int64_t o = 0; o < oc; o++)
        for (int64_t ky = 0; ky < s->kh; ky++)
            for (int64_t v = 0; v < nvec; v += CONV_TILE) {
                const int nq = (int)(nvec - v < CONV_TILE ? nvec - v : CONV_TILE);
                const int64_t t = v * GEMM_VL, n = s->run - t;
                REAL *w = dw + o * K + ky * s->run + t;
                const int64_t off = ky * s->rowlen + t;
#define CONV_DWK_CASE(m) case m: FN(conv_dwk_micro)(w, n, s, off, dz + o, oc, m); break;
                switch (nq) { CONV_DWK_CASE(1) CONV_DWK_CASE(2) CONV_DWK_CASE(3) CONV_DWK_CASE(4)
                              CONV_DWK_CASE(5) CONV_DWK_CASE(6) CONV_DWK_CASE(7) CONV_DWK_CASE(8)
                              CONV_DWK_CASE(9) CONV_DWK_CASE(10) CONV_DWK_CASE(11) CONV_DWK_CASE(12) }
#undef CONV_DWK_CASE
            }
}

static FN(conv_pimg) FN(conv_pimg_of)(int64_t H, int64_t W, int64_t C, int64_t t, int64_t l,
                                      int64_t gh, int64_t gw, int64_t sh, int64_t sw, int64_t kh,
                                      int64_t kw) {
    return (FN(conv_pimg)){.H = H, .W = W, .C = C, .t = t, .l = l, .gh = gh, .gw = gw, .sh = sh,
                           .sw = sw, .kh = kh, .kw = kw, .Hp = (gh - 1) * sh + kh,
                           .Wp = (gw - 1) * sw + kw};
}

/* REALs of a padded image, with VL of slack after it (conv_dwk_micro reads whole vectors); -1
   on overflow. */
static int64_t FN(conv_pimg_size)(const FN(conv_pimg) *p) {
    int64_t n;
    return sia_mul_ok(p->Hp, p->Wp, &n) && sia_mul_ok(n, p->C, &n) && sia_add_ok(n, GEMM_VL, &n) ? n : -1;
}

/* The sample img (H, W, C) padded into pad, as the micro-kernels read it. */
static FN(conv_src) FN(conv_pimg_src)(const FN(conv_pimg) *p, REAL *pad, const REAL *img) {
    FN(conv_pad)(pad, img, p->H, p->W, p->C, p->Hp, p->Wp, p->t, p->l);
    return (FN(conv_src)){.img = pad, .gh = p->gh, .gw = p->gw, .si = p->sh * p->Wp * p->C,
                          .sj = p->sw * p->C, .rowlen = p->Wp * p->C, .kh = p->kh, .run = p->kw * p->C};
}

/* Wp (K, npad) = Wᵀ, W (N, K), in panels of pw columns for runs of K / kh (panel at o0: K × pw
   from Wp + o0·K), zero past N. */
static void FN(conv_pack)(REAL *restrict Wp, const REAL *restrict W, int64_t N, int64_t K, int64_t kh) {
    const int64_t run = K / kh, pw = FN(conv_pw)(N, run), npad = FN(conv_npad)(N, run);
    for (int64_t o0 = 0; o0 < npad; o0 += pw)
        for (int64_t k = 0; k < K; k++) {
            REAL *d = Wp + o0 * K + k * pw;
            for (int64_t l = 0; l < pw; l++) d[l] = o0 + l < N ? W[(o0 + l) * K + k] : 0;
        }
}

/* ---- a strided scatter as stride-1 gathers: the phases ----
 *
 * Conv2DTranspose's forward and Conv2D's din scatter: from a small image (h, w, C) to a big one
 * (H, W, N) through W (C, kh, kw, N) (Conv2DTranspose's own W; Conv2D's (oc, kh, kw, ic) with
 * C = oc, N = ic), patch (i, j) of the small grid covering big[i·sh − pt + ky, j·sw − pl + kx]:
 *   big[y, x, :] = b + Σ over the (i, ky) with i·sh − pt + ky = y (and so for x) of small[i, j, :] W[:, ky, kx, :].
 * Written as a gather, each big row y sees only the taps ky ≡ y + pt (mod sh): with
 * y + pt = sh·m + ry, ky = ry + sh·a and i = m − a, for a < na = ⌈(kh − ry) / sh⌉. The rows of
 * one phase ry (y = sh·m + ry − pt) are then a stride-1 convolution of the small image, padded
 * by na − 1 rows above, with the na taps of ry flipped: big[y] = Σ_{a'<na} small[m − na + 1 + a']
 * W[ry + sh·(na − 1 − a')]; likewise for the columns. So the sh·sw phases (ry, rx) are sh·sw
 * plain convolutions, each with its nay × nax sub-kernel (2 × 2, 2 × 1, 1 × 2 and 1 × 1 for a
 * 3 × 3 kernel at stride 2), run by the forward's micro-kernels on one padded copy of the small
 * image, writing big's rows sh apart and columns sw apart; each big element is written once, a
 * sum of its own in a fixed order, instead of col2im's scattered additions. At stride 1 it is
 * one phase, the flipped convolution. Phases with no taps (kh < sh) give the bias. */

/* One axis of one phase r: its taps na, its first m and count of outputs, the first big
   coordinate `at` (then every s-th). */
typedef struct {
    int64_t na, m0, cnt, at;
} FN(conv_axis);

static FN(conv_axis) FN(conv_axis_of)(int64_t n, int64_t k, int64_t s, int64_t pad, int64_t r) {
    FN(conv_axis) a = {.na = r < k ? (k - r + s - 1) / s : 0};
    const int64_t lo = pad - r, hi = n - 1 + pad - r; /* s·m within [lo, hi] */
    a.m0 = lo <= 0 ? 0 : (lo + s - 1) / s;
    const int64_t m1 = hi >= 0 ? hi / s : -1;
    a.cnt = m1 >= a.m0 ? m1 - a.m0 + 1 : 0;
    a.at = s * a.m0 + r - pad;
    return a;
}

/* The small image's rows (or columns) that the phases read, [*lo, *hi] (n small ones, any
   outside are zeros of the padding). */
static void FN(conv_axis_reach)(int64_t n, int64_t k, int64_t s, int64_t pad, int64_t *lo, int64_t *hi) {
    *lo = 0, *hi = 0;
    for (int64_t r = 0, seen = 0; r < s; r++) {
        const FN(conv_axis) a = FN(conv_axis_of)(n, k, s, pad, r);
        if (!a.na || !a.cnt) continue;
        const int64_t l = a.m0 - a.na + 1, h = a.m0 + a.cnt - 1;
        *lo = seen && *lo < l ? *lo : l;
        *hi = seen && *hi > h ? *hi : h;
        seen = 1;
    }
}

typedef struct {
    int64_t H, W, N;     /* the big image, written */
    int64_t C;           /* the small image's channels */
    int64_t kh, kw, sh, sw, pt, pl;
    int64_t t, l;        /* the padded small image: small row 0 at row t, column 0 at column l */
    FN(conv_pimg) pad;
} FN(conv_phases);

/* The phases of big (H, W, N) from small (h, w, C); pad.Hp < 0 on overflow. */
static FN(conv_phases) FN(conv_phases_of)(int64_t H, int64_t W, int64_t N, int64_t h, int64_t w,
                                          int64_t C, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                          int64_t pt, int64_t pl) {
    FN(conv_phases) ph = {.H = H, .W = W, .N = N, .C = C, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                          .pt = pt, .pl = pl};
    int64_t ylo, yhi, xlo, xhi;
    FN(conv_axis_reach)(H, kh, sh, pt, &ylo, &yhi);
    FN(conv_axis_reach)(W, kw, sw, pl, &xlo, &xhi);
    ph.t = -ylo, ph.l = -xlo;
    ph.pad = (FN(conv_pimg)){.H = h, .W = w, .C = C, .t = ph.t, .l = ph.l, .Hp = yhi - ylo + 1,
                             .Wp = xhi - xlo + 1};
    return ph;
}

/* Wp = each phase's sub-kernel, flipped, packed (conv_pack's panels for its runs of nax·C),
   phase after phase (ry, then rx): Wp[(a'y, a'x, c), o] = W[c, ry + sh·(nay−1−a'y), rx + sw·(nax−1−a'x), o],
   each panel row a copy of pw consecutive o of W (zeros past N). */
static void FN(conv_pack_phases)(REAL *restrict Wp, const REAL *restrict W, const FN(conv_phases) *ph) {
    const int64_t C = ph->C, N = ph->N, kh = ph->kh, kw = ph->kw;
    for (int64_t ry = 0; ry < ph->sh; ry++)
        for (int64_t rx = 0; rx < ph->sw; rx++) {
            const int64_t nay = ry < kh ? (kh - ry + ph->sh - 1) / ph->sh : 0;
            const int64_t nax = rx < kw ? (kw - rx + ph->sw - 1) / ph->sw : 0;
            const int64_t run = nax * C, K = nay * run, pw = FN(conv_pw)(N, run);
            for (int64_t o0 = 0; o0 < FN(conv_npad)(N, run); o0 += pw) {
                const int64_t nc = N - o0 < pw ? N - o0 : pw;
                REAL *d = Wp + o0 * K;
                for (int64_t ay = 0; ay < nay; ay++)
                    for (int64_t ax = 0; ax < nax; ax++) {
                        const int64_t ky = ry + ph->sh * (nay - 1 - ay), kx = rx + ph->sw * (nax - 1 - ax);
                        for (int64_t c = 0; c < C; c++, d += pw) {
                            const REAL *w = W + ((c * kh + ky) * kw + kx) * N + o0;
                            for (int64_t l = 0; l < pw; l++) d[l] = l < nc ? w[l] : 0;
                        }
                    }
            }
            Wp += K * FN(conv_npad)(N, run);
        }
}

/* big (H, W, N) of one sample = b + the scatter of small (h, w, C) through W, phase by phase
   (Wp: conv_pack_phases; bp (npad,) the bias in panels, zeros for none); through the ReLU if
   relu. pad: room for the padded small image. */
static void FN(conv_phased_sample)(REAL *big, const FN(conv_phases) *ph, REAL *pad, const REAL *small,
                                   const REAL *Wp, const REAL *bp, int relu) {
    const FN(conv_pimg) *q = &ph->pad;
    if (ph->sh == 1 && ph->sw == 1) { /* one phase: to one channel, from the small image itself */
        const FN(conv_pimg) one = {.H = q->H, .W = q->W, .C = ph->C, .t = q->t, .l = q->l, .gh = ph->H,
                                   .gw = ph->W, .sh = 1, .sw = 1, .kh = ph->kh, .kw = ph->kw};
        if (FN(conv_dot1_fits)(&one, ph->N)) {
            FN(conv_dot1_sample)(big, small, &one, Wp, bp[0], relu);
            return;
        }
    }
    FN(conv_pad)(pad, small, q->H, q->W, q->C, q->Hp, q->Wp, q->t, q->l);
    const int64_t C = ph->C, N = ph->N, rowlen = q->Wp * C;
    const int64_t zi = ph->sh * ph->W * N, zj = ph->sw * N; /* a phase's next row, column */
    for (int64_t ry = 0; ry < ph->sh; ry++) {
        const FN(conv_axis) ay = FN(conv_axis_of)(ph->H, ph->kh, ph->sh, ph->pt, ry);
        for (int64_t rx = 0; rx < ph->sw; rx++) {
            const FN(conv_axis) ax = FN(conv_axis_of)(ph->W, ph->kw, ph->sw, ph->pl, rx);
            const int64_t run = ax.na * C, K = ay.na * run;
            REAL *z = big + (ay.at * ph->W + ax.at) * N;
            if (ay.cnt && ax.cnt && K) {
                const FN(conv_src) s = {.img = pad + (ay.m0 - ay.na + 1 + q->t) * rowlen +
                                               (ax.m0 - ax.na + 1 + q->l) * C,
                                        .gh = ay.cnt, .gw = ax.cnt, .si = rowlen, .sj = C,
                                        .rowlen = rowlen, .kh = ay.na, .run = run};
                FN(conv_direct_sample)(z, zi, zj, &s, Wp, bp, N, relu);
            } else if (ay.cnt && ax.cnt) /* no taps: the bias */
                for (int64_t i = 0; i < ay.cnt; i++)
                    for (int64_t j = 0; j < ax.cnt; j++)
                        for (int64_t o = 0; o < N; o++)
                            z[i * zi + j * zj + o] = relu ? (bp[o] > 0 ? bp[o] : 0) : bp[o];
            Wp += K * FN(conv_npad)(N, run);
        }
    }
}

/* ---- one output channel, from the image itself ----
 * The dot kernel above reads a padded copy of the image, which costs as much as its products
 * when there are many input channels (a 28 × 28 × 32 image is 100 KB to copy, for 9 · 32
 * multiply-adds per output). When the columns have stride 1 and the channels make whole
 * vectors, the forward (conv_body.c's conv_dot1_image, through conv_dot1_sample above) and the
 * dW rows below read the image in place instead, the cells outside it skipped. */

/* dW (R, K) += Σ_p dz[p, o] patch_p over one sample (conv_dwk_sample's sums) from the image
 * itself, for a 3-wide kernel at column stride 1 over nc <= 4 vectors of channels: for each row
 * o and ky, each vector of an image row is loaded once and multiplied into the 3 steps kx whose
 * patch (i, j = u − kx) holds it (3·nc accumulators); cells outside the image are skipped. Each
 * element sums the patches in order. dz (P, R): the patches' rows. */
static int FN(conv_dwk3_fits)(const FN(conv_pimg) *p) {
    return p->sw == 1 && p->kw == 3 && p->C % GEMM_VL == 0 && p->C / GEMM_VL <= 4;
}
GEMM_INLINE void FN(conv_dwk3_run)(REAL *restrict dw, const REAL *restrict img, const FN(conv_pimg) *p,
                                   int64_t ky, const REAL *restrict dz, int64_t ldz, const int nc) {
    vreal acc[3][4];
    for (int kx = 0; kx < 3; kx++)
        for (int c = 0; c < nc; c++) acc[kx][c] = (vreal){0};
    const int64_t C = p->C, gw = p->gw;
    for (int64_t i = 0; i < p->gh; i++) {
        const int64_t y = i * p->sh - p->t + ky;
        if (y < 0 || y >= p->H) continue;
        const REAL *row = img + y * p->W * C, *d = dz + i * gw * ldz;
        const int64_t u0 = p->l > 0 ? p->l : 0, u1 = p->W + p->l < gw + 2 ? p->W + p->l : gw + 2;
        for (int64_t u = u0; u < u1; u++) { /* patch column u − kx, image column u − l */
            vreal x[4];
            for (int c = 0; c < nc; c++) x[c] = *(const vreal_u *)(row + (u - p->l) * C + c * GEMM_VL);
            for (int kx = 0; kx < 3; kx++) {
                const int64_t j = u - kx;
                if (j < 0 || j >= gw) continue;
                const REAL g = d[j * ldz];
                for (int c = 0; c < nc; c++) acc[kx][c] += g * x[c];
            }
        }
    }
    for (int kx = 0; kx < 3; kx++)
        for (int c = 0; c < nc; c++) {
            vreal_u *w = (vreal_u *)(dw + kx * C + c * GEMM_VL);
            *w = *w + acc[kx][c];
        }
}
GEMM_CLONES
static void FN(conv_dwk3_image)(REAL *restrict dw, const REAL *restrict img, const FN(conv_pimg) *p,
                                const REAL *restrict dz, int64_t R) {
    const int64_t run = 3 * p->C, K = p->kh * run;
    for (int64_t o = 0; o < R; o++)
        for (int64_t ky = 0; ky < p->kh; ky++) {
            REAL *w = dw + o * K + ky * run;
            switch (p->C / GEMM_VL) {
            case 1: FN(conv_dwk3_run)(w, img, p, ky, dz + o, R, 1); break;
            case 2: FN(conv_dwk3_run)(w, img, p, ky, dz + o, R, 2); break;
            case 3: FN(conv_dwk3_run)(w, img, p, ky, dz + o, R, 3); break;
            default: FN(conv_dwk3_run)(w, img, p, ky, dz + o, R, 4); break;
            }
        }
}

/* How a Conv2D or Conv2DTranspose runs: the direct paths above where they apply, else im2col
 * (col2im) and gemm. In both kinds' terms (in (ih, iw, ic), W, dz (oh, ow, oc)):
 *   Conv2D           forward  pf = in padded by the padding, grid (oh, ow), stride s: W (oc, K)
 *                    backward pb = pf: dW rows dz (oc); din = the phases ph of dz (oh, ow, oc)
 *                             into (ih, iw, ic), W's sub-kernels flipped (ic columns)
 *   Conv2DTranspose  forward  the phases ph of in (ih, iw, ic) into (oh, ow, oc) (oc columns)
 *                    backward pb = dz padded by the crop, grid (ih, iw), stride s: dW rows in
 *                             (ic), din = pb's patches · W (ic, K)ᵀ, whatever the stride.
 * Each side packs its W once per call: conv_pack for the gathers (pf, pb), conv_pack_phases for
 * the scatter (ph), in at most K·npad REALs either way, the bias's npad after them. */
typedef struct {
    int fwd;                 /* forward by a direct convolution */
    int dw;                  /* backward's dW: 1 dWᵀ tiles (R a multiple of VL), 2 by rows (runs of
                                at least VL), 0 none: the backward goes by im2col */
    int din;                 /* din by a direct convolution (else the backward goes by im2col
                                unless din is not wanted) */
    int t;                   /* Conv2DTranspose */
    FN(conv_pimg) pf, pb;
    FN(conv_phases) ph;      /* Conv2DTranspose's forward, Conv2D's din */
    int64_t R, Kw;           /* dW (R, Kw): Conv2D (oc, kh·kw·ic), Conv2DTranspose (ic, kh·kw·oc) */
    int64_t Kf, Nf, Kd, Nd;  /* the packed W of forward (Kf, Nf) and of din (Kd, Nd) */
    int64_t npf, npd;        /* their padded columns (for the phases: the most of any phase) */
    int64_t shared;          /* REALs of both packed W, each followed by its bias (din's: zeros):
                                (Kf + 1) npf + (Kd + 1) npd */
    int64_t pads, slice;     /* REALs of a task's padded images, and of its whole slice: the
                                images, dW and db, then one sample's dz through the ReLU's
                                backward (the backward of a layer that fuses its ReLU) */
} FN(conv_plan);

/* Padded images start on a 64-byte line (each within CONV_ALIGN REALs of its place in the
   slice): their whole-vector loads then never straddle two lines. */
enum { CONV_ALIGN = 64 / sizeof(REAL) };
static REAL *FN(conv_aligned)(REAL *p) { return (REAL *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* The plan of layer l; -1 in shared on overflow. */
static FN(conv_plan) FN(conv_plan_for)(const sia_layer *l, const FN(conv_geom) *g) {
    FN(conv_plan) p = {0};
    const int64_t ic = l->in_c, oc = l->out_c, kh = l->kh, kw = l->kw, ih = l->in_h, iw = l->in_w;
    const int64_t oh = l->out_h, ow = l->out_w;
    if ((l->kind != SIA_LAYER_CONV2D && l->kind != SIA_LAYER_CONV2D_T) || FN(conv_is_product)(g))
        return p;
    p.t = l->kind == SIA_LAYER_CONV2D_T;
    if (!p.t) {
        p.fwd = 1, p.din = 1, p.R = oc, p.Kw = kh * kw * ic;
        p.pf = p.pb = FN(conv_pimg_of)(ih, iw, ic, l->pad_t, l->pad_l, oh, ow, l->sh, l->sw, kh, kw);
        p.ph = FN(conv_phases_of)(ih, iw, ic, oh, ow, oc, kh, kw, l->sh, l->sw, l->pad_t, l->pad_l);
        p.Kf = kh * kw * ic, p.Nf = oc, p.npf = FN(conv_npad)(oc, kw * ic);
        p.Kd = kh * kw * oc, p.Nd = ic, p.npd = FN(conv_npad)(ic, 0);
        p.dw = oc % GEMM_VL == 0 ? 1 : kw * ic >= GEMM_VL ? 2 : 0;
    } else {
        p.fwd = 1, p.din = 1, p.R = ic, p.Kw = kh * kw * oc;
        p.ph = FN(conv_phases_of)(oh, ow, oc, ih, iw, ic, kh, kw, l->sh, l->sw, l->pad_t, l->pad_l);
        p.pb = FN(conv_pimg_of)(oh, ow, oc, l->pad_t, l->pad_l, ih, iw, l->sh, l->sw, kh, kw);
        p.Kf = kh * kw * ic, p.Nf = oc, p.npf = FN(conv_npad)(oc, 0);
        p.Kd = kh * kw * oc, p.Nd = ic, p.npd = FN(conv_npad)(ic, kw * oc);
        p.dw = ic % GEMM_VL == 0 ? 1 : kw * oc >= GEMM_VL ? 2 : 0;
    }
    const int64_t sp = FN(conv_pimg_size)(&p.ph.pad), sb = FN(conv_pimg_size)(&p.pb);
    const int64_t sf = p.t ? sp : FN(conv_pimg_size)(&p.pf), sd = p.t ? 0 : sp;
    int64_t a, b, w;
    if (sf < 0 || sb < 0 || sd < 0 || !sia_mul_ok(p.Kf + 1, p.npf, &a) ||
        !sia_mul_ok(p.Kd + 1, p.npd, &b) || !sia_add_ok(a, b, &p.shared) ||
        !sia_add_ok(sb, sd, &p.pads) || !sia_mul_ok(p.R, p.Kw, &w) || !sia_add_ok(w, oc, &w)) {
        p.shared = -1;
        return p;
    }
    if (sf > p.pads) p.pads = sf;
    if (!sia_add_ok(p.pads, 2 * CONV_ALIGN, &p.pads) || !sia_add_ok(p.pads, w, &p.slice) ||
        !sia_add_ok(p.slice, oh * ow * oc, &p.slice))
        p.shared = -1;
    return p;
}

/* Whether the forward applies the layer's activation itself (ReLU, on a direct path or
   Winograd's, winograd.c and winograd2.c): the engine then skips its pass over z and reads a = z (net.c). */
int FN(sia_conv_fuses_act)(const sia_layer *l) {
    const FN(conv_geom) g = FN(conv_geometry)(l);
    return l->act == SIA_RELU && FN(conv_plan_for)(l, &g).fwd;
}

/* Whether the backward applies the ReLU's derivative itself: on the direct paths (not
   Winograd's), each task masks a sample's dz as it reads it (conv_direct_backward_task), so
   the engine makes no serial pass over dL/da. */
static int FN(wino_fits)(const sia_layer *l);
int FN(sia_conv_fuses_grad)(const sia_layer *l) {
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const FN(conv_plan) p = FN(conv_plan_for)(l, &g);
    return l->act == SIA_RELU && p.fwd && p.dw && !(sia_winograd && FN(wino_fits)(l));
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

/* The Winograd path of 3 × 3 stride-1 Conv2D layers (winograd.c, included after this file). */
static int FN(wino_fits)(const sia_layer *l);
static int64_t FN(wino_scratch)(const sia_layer *l, int64_t *shared);
static void FN(wino_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, int64_t B,
                             REAL *scratch, int64_t shared, int nthreads);
static void FN(wino_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                              const REAL *W, int64_t B, REAL *scratch, int64_t shared,
                              int accumulate, int nthreads);
/* The Winograd path of 3 × 3 stride-2 Conv2DTranspose forwards (winograd2.c, after winograd.c),
   for the shapes where it beats the phases (wino2_fits); their backward is the direct one (dW
   by F(2, 2) where wino2dw_fits, below), and so folds the ReLUs as the direct paths do. */
static int FN(wino2_fits)(const sia_layer *l);
static int64_t FN(wino2_scratch)(const sia_layer *l, int64_t *shared);
static void FN(wino2_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, int64_t B,
                              REAL *scratch, int64_t shared, int nthreads);

/* The weight gradient of 3 × 3 stride-2 layers of both kinds by F(2, 2) (winograd2.c), beside
   the direct backward's din, db and ReLUs, for the shapes of wino2dw_fits. */
typedef struct FN(conv_job) FN(conv_job);
static int FN(wino2dw_fits)(const sia_layer *l);
static int64_t FN(wino2dw_scratch)(const sia_layer *l);
static void FN(wino2dw_backward)(const FN(conv_job) *cj, REAL *dW, int accumulate, int nthreads);

/* REALs of a task's slice on the Winograd path that layer l fits (0 for none, -1 on overflow);
   *shared: those before the slices. */
static int64_t FN(conv_wino_scratch)(const sia_layer *l, int64_t *shared) {
    const int64_t s = FN(wino_scratch)(l, shared);
    return s ? s : FN(wino2_scratch)(l, shared);
}

/* A task's scratch: a piece's im2col rows, then a partial dW and db (backward); or, for the
   direct paths, the padded images, dW and db; or Winograd's slice, the largest. -1 on overflow. */
static int64_t FN(conv_task_scratch)(const sia_layer *l) {
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const FN(conv_plan) p = FN(conv_plan_for)(l, &g);
    int64_t cols, w, s, ws;
    const int64_t wslice = FN(conv_wino_scratch)(l, &ws), dwslice = FN(wino2dw_scratch)(l);
    if (p.shared < 0 || wslice < 0 || dwslice < 0 || !sia_mul_ok(FN(conv_rows)(&g), g.kh * g.kw * g.C, &cols) ||
        !sia_mul_ok(l->in_c * l->kh * l->kw, l->out_c, &w) || !sia_add_ok(cols, w, &s) ||
        !sia_add_ok(s, l->out_c, &s))
        return -1;
    s = s > p.slice ? s : p.slice;
    s = s > dwslice ? s : dwslice;
    return s > wslice ? s : wslice;
}

/* REALs before the slices: the larger of the direct plan's packed weights and Winograd's. */
static int64_t FN(conv_shared)(const sia_layer *l) {
    const FN(conv_geom) g = FN(conv_geometry)(l);
    int64_t ws;
    const int64_t shared = FN(conv_plan_for)(l, &g).shared;
    return FN(conv_wino_scratch)(l, &ws) < 0 || shared < 0 ? -1 : shared > ws ? shared : ws;
}

/* The shared part (the packed weights), then SIA_LAYER_TASKS slices. */
int64_t FN(sia_conv2d_scratch)(const sia_layer *l, int64_t B) {
    const int64_t s = FN(conv_task_scratch)(l), shared = FN(conv_shared)(l);
    int64_t all;
    return s >= 0 && shared >= 0 && sia_mul_ok(s, SIA_LAYER_TASKS, &all) && sia_add_ok(all, shared, &all) ? all : -1;
}
int64_t FN(sia_conv2d_t_scratch)(const sia_layer *l, int64_t B) { return FN(sia_conv2d_scratch)(l, B); }

/* One call of a kind's forward or backward, cut into tasks of whole units. */
struct FN(conv_job) {
    const sia_layer *l;
    FN(conv_geom) g;
    FN(conv_plan) plan;
    REAL *z, *din, *dW;
    const REAL *in, *W, *dz;
    const REAL *zr;         /* backward of a fused ReLU: its output, else NULL */
    int relu_below;         /* backward: din times [in > 0], the ReLU of the layer below */
    REAL *shared, *scratch; /* the packed weights (direct paths); the tasks' slices */
    int64_t B, unit, rows, slice, ntasks;
    int gemm_threads;
};

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

/* db[0] += Σ_r dz[r] over r < n, for one output channel: conv_sum_rows's chain of n dependent
   adds through db[0] would take ~5 cycles each (a sample of 28 × 28 outputs, 4,000 cycles), so
   here 4 vectors of partial sums in order, then a fixed tree over their lanes, then the rest in
   order. The same adds on every path (GEMM_CLONES, vectors of 32 bytes): the same bits. */
GEMM_CLONES
static void FN(conv_sum1)(REAL *restrict db, const REAL *restrict dz, int64_t n) {
    vreal acc[4] = {{0}};
    int64_t r = 0;
    for (; r + 4 * GEMM_VL <= n; r += 4 * GEMM_VL)
        for (int k = 0; k < 4; k++) acc[k] += *(const vreal_u *)(dz + r + k * GEMM_VL);
    vreal t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (int w = GEMM_VL / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] += t[l + w];
    REAL s = t[0];
    for (; r < n; r++) s += dz[r];
    db[0] += s;
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

/* The job of one call; direct: by the direct paths (whole samples as units). */
static FN(conv_job) FN(conv_job_for)(const sia_layer *l, int64_t B, REAL *scratch, int nthreads,
                                     int direct) {
    FN(conv_job) j = {.l = l, .g = FN(conv_geometry)(l), .B = B};
    j.plan = FN(conv_plan_for)(l, &j.g);
    j.shared = scratch;
    j.scratch = scratch + (j.plan.shared > 0 ? j.plan.shared : 0);
    j.unit = direct ? 1 : FN(conv_unit)(&j.g);
    j.rows = FN(conv_rows)(&j.g);
    j.slice = FN(conv_task_scratch)(l);
    j.ntasks = FN(layer_ntasks)(B, j.unit, nthreads);
    j.gemm_threads = j.ntasks == 1 && !direct ? nthreads : 1; /* gemm's threads, when the tasks are one */
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

/* ---- the direct paths of both kinds ---- */

/* Task t's partial dW (R, Kw, or its transpose) and db (oc), after its padded images. */
static REAL *FN(conv_direct_dw)(const FN(conv_job) *j, int64_t t) {
    return j->scratch + t * j->slice + j->plan.pads;
}

/* z = b + the convolution of each padded sample pf with the packed W. */
static void FN(conv_direct_forward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const FN(conv_plan) *p = &j->plan;
    const sia_layer *l = j->l;
    const int64_t n_in = l->in_h * l->in_w * l->in_c, n_out = l->out_h * l->out_w * l->out_c;
    const int64_t zj = l->out_c, zi = l->out_w * zj;
    const REAL *bp = j->shared + p->Kf * p->npf;
    const int relu = l->act == SIA_RELU;
    REAL *pad = FN(conv_aligned)(j->scratch + i * j->slice);
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    for (int64_t b = s0; b < s1; b++) {
        if (p->t) {
            FN(conv_phased_sample)(j->z + b * n_out, &p->ph, pad, j->in + b * n_in, j->shared, bp, relu);
            continue;
        }
        if (FN(conv_dot1_fits)(&p->pf, p->Nf)) { /* one channel out: from the image itself */
            FN(conv_dot1_sample)(j->z + b * n_out, j->in + b * n_in, &p->pf, j->shared, bp[0], relu);
            continue;
        }
        const FN(conv_src) s = FN(conv_pimg_src)(&p->pf, pad, j->in + b * n_in);
        FN(conv_direct_sample)(j->z + b * n_out, zi, zj, &s, j->shared, bp, p->Nf, relu);
    }
}

/* Conv2D: forward was z[q, o] = b[o] + Σ_k patch_q[k] W[o, k] (patches of pb = the input), so
 *   dW[o, k] += Σ_q dz[q, o] patch_q[k]   (conv_dw_sample: dWᵀ tiles, or conv_dwk_sample: rows)
 *   db[o]    += Σ_q dz[q, o]
 *   din       = the scatter of dz through W, by its phases (see conv_phases).
 * Conv2DTranspose: forward was z = col2im(cols) + b, cols[p, k] = Σ_c in[p, c] W[c, k]; col2im's
 * adjoint is im2col, so with the patches of pb = dz:
 *   dW[c, k] += Σ_p in[p, c] patch_p[k]   (the same kernels, in's rows for dz's)
 *   db[o]    += Σ over the output pixels of dz[·, o]
 *   din[p, c] = Σ_k patch_p[k] W[c, k]    (a direct convolution of pb, any stride). */
/* One sample's din on the direct plan (its packed din W in j's shared part): a Conv2DTranspose's
   is a direct convolution of s, the patches of its padded dz; a Conv2D's is the scatter of dz by
   its phases (padz their padded image; s is not read, and may be NULL). */
static void FN(conv_din_sample)(const FN(conv_job) *j, REAL *din, const FN(conv_src) *s, REAL *padz,
                                const REAL *dz) {
    const FN(conv_plan) *p = &j->plan;
    const REAL *Wd = j->shared + (p->Kf + 1) * p->npf, *bd = Wd + p->Kd * p->npd;
    if (p->t) FN(conv_direct_sample)(din, j->l->in_w * j->l->in_c, j->l->in_c, s, Wd, bd, p->Nd, 0);
    else FN(conv_phased_sample)(din, &p->ph, padz, dz, Wd, bd, 0);
}

static void FN(conv_direct_backward_task)(void *ctx, int64_t i) {
    const FN(conv_job) *j = ctx;
    const FN(conv_plan) *p = &j->plan;
    const sia_layer *l = j->l;
    const int64_t ic = l->in_c, oc = l->out_c, n_in = l->in_h * l->in_w * ic;
    const int64_t n_out = l->out_h * l->out_w * oc;
    REAL *pad = FN(conv_aligned)(j->scratch + i * j->slice);
    REAL *padz = FN(conv_aligned)(pad + FN(conv_pimg_size)(&p->pb));
    REAL *dWp = FN(conv_direct_dw)(j, i), *dbp = dWp + p->R * p->Kw;
    memset(dWp, 0, (size_t)(p->R * p->Kw + oc) * sizeof(REAL));
    memset(pad + FN(conv_pimg_size)(&p->pb) - GEMM_VL, 0, GEMM_VL * sizeof(REAL)); /* dwk's slack */
    REAL *dzm = dWp + p->R * p->Kw + oc; /* the sample's dz through the ReLU's backward */
    int64_t s0, s1;
    FN(conv_task_samples)(j, i, &s0, &s1);
    /* a Conv2D's dW rows from its input itself, no padded copy (conv_dwk3_image) */
    const int inplace = !p->t && p->dw == 2 && FN(conv_dwk3_fits)(&p->pb);
#if GEMM_X86 /* one output channel, 3 × 3 at stride 1: the whole dW in zmm registers, the same bits */
    const int dw33 = inplace && p->R == 1 && sia_simd_conv_bytes() == 64 && FN(conv_dw33_fits_avx512)(&p->pb);
#endif
    for (int64_t b = s0; b < s1; b++) {
        const REAL *dz = j->dz + b * n_out, *in = j->in + b * n_in;
        if (j->zr) {
            FN(conv_relu_grad)(dzm, dz, j->zr + b * n_out, n_out);
            dz = dzm;
        }
        const REAL *rows = p->t ? in : dz; /* the dW's other factor, (P, R) */
        if (oc == 1) FN(conv_sum1)(dbp, dz, n_out);
        else FN(conv_sum_rows)(dbp, dz, oc, 0, n_out / oc);
        REAL *din = j->din ? j->din + b * n_in : NULL;
        if (inplace) {
#if GEMM_X86
            if (dw33) FN(conv_dw33_image_avx512)(dWp, in, &p->pb, rows);
            else
#endif
            FN(conv_dwk3_image)(dWp, in, &p->pb, rows, p->R);
            if (din) FN(conv_din_sample)(j, din, NULL, padz, dz);
        } else {
            const FN(conv_src) s = FN(conv_pimg_src)(&p->pb, pad, p->t ? dz : in);
            if (p->dw == 1) FN(conv_dw_sample)(dWp, &s, rows, p->R, p->R);
            else FN(conv_dwk_sample)(dWp, &s, rows, p->R);
            if (din) FN(conv_din_sample)(j, din, &s, padz, dz);
        }
        /* the layer below's ReLU, while the sample's din and input are still in cache */
        if (din && j->relu_below) FN(conv_relu_grad)(din, din, in, n_in);
    }
}

/* dW (R, Kw) then db = [dW +] the tasks' partial sums in task order; a dWᵀ (Kw, R) is turned. */
static void FN(conv_direct_reduce)(const FN(conv_job) *j, REAL *dW, int accumulate) {
    const int64_t R = j->plan.R, K = j->plan.Kw, oc = j->l->out_c;
    for (int64_t t = 0; t < j->ntasks; t++) {
        const REAL *part = FN(conv_direct_dw)(j, t);
        const int add = t > 0 || accumulate;
        for (int64_t o = 0; o < R; o++)
            for (int64_t k = 0; k < K; k++) {
                const REAL v = j->plan.dw == 1 ? part[k * R + o] : part[o * K + k];
                dW[o * K + k] = add ? dW[o * K + k] + v : v;
            }
        for (int64_t o = 0; o < oc; o++) dW[R * K + o] = add ? dW[R * K + o] + part[R * K + o] : part[R * K + o];
    }
}

/* One forward: the direct path when the plan has it, else task(). */
static void FN(conv_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, int64_t B,
                             REAL *scratch, int nthreads, void (*task)(void *, int64_t)) {
    if (B <= 0) return;
    if (sia_winograd && FN(wino_fits)(l)) {
        FN(wino_forward)(l, z, in, W, B, scratch, FN(conv_shared)(l), nthreads);
        return;
    }
    if (sia_winograd && FN(wino2_fits)(l)) {
        FN(wino2_forward)(l, z, in, W, B, scratch, FN(conv_shared)(l), nthreads);
        return;
    }
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const int direct = FN(conv_plan_for)(l, &g).fwd;
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads, direct);
    j.z = z;
    j.in = in;
    j.W = W;
    if (direct) { /* W packed once for every task, its bias after it */
        const FN(conv_plan) *p = &j.plan;
        REAL *bp = j.shared + p->Kf * p->npf;
        if (p->t) FN(conv_pack_phases)(j.shared, W, &p->ph);
        else FN(conv_pack)(j.shared, W, p->Nf, p->Kf, g.kh);
        for (int64_t o = 0; o < p->npf; o++) bp[o] = o < p->Nf ? W[p->R * p->Kw + o] : 0;
    }
    sia_pool_run(nthreads, j.ntasks, direct ? FN(conv_direct_forward_task) : task, &j);
}

/* One backward: the direct path when the plan has it, else task(). */
static void FN(conv_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                              const REAL *in, const REAL *z, const REAL *W, int64_t B, REAL *scratch,
                              int accumulate, int nthreads, void (*task)(void *, int64_t),
                              int relu_below) {
    const int64_t n = l->out_c * l->kh * l->kw * l->in_c + l->out_c;
    if (B <= 0) {
        if (!accumulate) memset(dW, 0, (size_t)n * sizeof(REAL));
        return;
    }
    if (sia_winograd && FN(wino_fits)(l)) {
        FN(wino_backward)(l, din, dW, dz, in, W, B, scratch, FN(conv_shared)(l), accumulate, nthreads);
        return;
    }
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const FN(conv_plan) plan = FN(conv_plan_for)(l, &g);
    const int direct = plan.dw && (!din || plan.din);
    FN(conv_job) j = FN(conv_job_for)(l, B, scratch, nthreads, direct);
    j.din = din;
    j.relu_below = relu_below; /* only on the direct path (conv_folds_relu) */
    j.dz = dz;
    j.zr = direct && l->act == SIA_RELU ? z : NULL; /* see sia_conv_fuses_grad; NULL z: none */
    j.in = in;
    j.W = W;
    if (direct && din) { /* din's W packed once for every task, a zero bias after it */
        REAL *Wd = j.shared + (plan.Kf + 1) * plan.npf;
        if (plan.t) FN(conv_pack)(Wd, W, plan.Nd, plan.Kd, g.kh);
        else FN(conv_pack_phases)(Wd, W, &plan.ph);
        memset(Wd + plan.Kd * plan.npd, 0, (size_t)plan.npd * sizeof(REAL));
    }
    if (direct && sia_winograd && FN(wino2dw_fits)(l)) {
        FN(wino2dw_backward)(&j, dW, accumulate, nthreads);
        return;
    }
    sia_pool_run(nthreads, j.ntasks, direct ? FN(conv_direct_backward_task) : task, &j);
    if (direct) FN(conv_direct_reduce)(&j, dW, accumulate);
    else FN(conv_reduce)(&j, dW, n, accumulate);
}

void FN(sia_conv2d_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                        const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    FN(conv_forward)(l, z, in, W, B, scratch, nthreads, FN(conv2d_forward_task));
}

void FN(sia_conv2d_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                         const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                         int accumulate, int nthreads) {
    FN(conv_backward)(l, din, dW, dz, in, z, W, B, scratch, accumulate, nthreads, FN(conv2d_backward_task), 0);
}

void FN(sia_conv2d_t_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                          const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    FN(conv_forward)(l, z, in, W, B, scratch, nthreads, FN(conv2d_t_forward_task));
}

void FN(sia_conv2d_t_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                           const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                           int64_t B, REAL *scratch, int accumulate, int nthreads) {
    FN(conv_backward)(l, din, dW, dz, in, z, W, B, scratch, accumulate, nthreads, FN(conv2d_t_backward_task), 0);
}

/* The backward with the ReLU of the layer below folded into din (sia_layer_kind.backward_relu):
   on the direct path, each task multiplies a sample's din by [in > 0] right after writing it,
   the engine's pass over the whole of din from memory saved; the same bits. Returns 0, having
   written nothing, elsewhere (Winograd, im2col) or without din. */
static int FN(conv_folds_relu)(const sia_layer *l) {
    if (sia_winograd && FN(wino_fits)(l)) return 0;
    const FN(conv_geom) g = FN(conv_geometry)(l);
    const FN(conv_plan) p = FN(conv_plan_for)(l, &g);
    return p.dw && p.din;
}

int FN(sia_conv_backward_relu)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                               const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                               int accumulate, int nthreads) {
    if (!din || !FN(conv_folds_relu)(l)) return 0;
    FN(conv_backward)(l, din, dW, dz, in, z, W, B, scratch, accumulate, nthreads,
                      l->kind == SIA_LAYER_CONV2D_T ? FN(conv2d_t_backward_task) : FN(conv2d_backward_task), 1);
    return 1;
}
