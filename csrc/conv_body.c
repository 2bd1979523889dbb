/* conv_body.c (template over REAL and a vector width, included by conv.c once per width, as
 * gemm_body.c is by gemm.c): the panel micro-kernels of the direct convolutions, forward tiles and
 * dWᵀ tiles, over vectors of CONV_VBYTES bytes. conv.c sets CONV_VBYTES (32 or 64), CONV_SFX (the
 * suffix of every name defined here: _avx512, or none) and CONV_CLONES, and the target:
 *   64  x86-64-v4, called only when sia_simd is avx512 (conv.c's conv_fwd_sample, conv_dw_sample);
 *   32  GEMM_CLONES (x86-64-v4, -v3 and plain clones, picked by the loader): avx2 and baseline.
 *
 * The packed W (conv_pack, conv_pack_phases, wino_pack) is the same for both widths: panels of
 * pw = VL or 2·VL lanes of the 32-byte vector (GEMM_VL), zero past N. A tile takes nv <= 2 vectors
 * of CV lanes (CONV_VL, this width's) of output channels from o0 on, b_0 and b_1 = b_0 + hs: in
 * 32-byte vectors the two halves of a panel of 2·VL (hs = CV); in 64-byte ones, where a panel of
 * 2·VL is one whole vector, two adjacent panels (hs = pw·K): a forward tile of 6 patches × 2
 * zmm does 12 FMAs of 16 lanes per 8 loads, a dW tile of 12 k × 2 zmm keeps 24 of the 32 zmm
 * registers as accumulators, as gemm's avx512 tile (CONV_FWD_MR2, CONV_DW_MR2). Each output
 * element is one chain in the same order whatever the width and the tile (forward: the bias,
 * then k in order; dW: its value, then the patches in order): both widths give the same bits. */

#define CONV_CAT_(a, b) a##b
#define CONV_CAT(a, b) CONV_CAT_(a, b)
#define CONV_FN(name) FN(name)
#define CV(name) CONV_FN(CONV_CAT(name, CONV_SFX)) /* this width's name of a kernel */
#define cvec CONV_CAT(vreal, CONV_SFX)       /* gemm_body.c's vectors of the same width */
#define cvec_u CONV_CAT(vreal_u, CONV_SFX)
#define CONV_VL ((int)(CONV_VBYTES / sizeof(REAL)))
/* Rows of the tiles. Forward, whose mr patch pointers must stay in general registers: 6 patches
   × 2 vectors on both widths (12 of 16 ymm, or of 32 zmm, as accumulators) and 12 × 1 ymm or
   8 × 1 zmm (8 chains: two 512-bit FMA units of 4 cycles). On an AMD EPYC Zen 4, 12 × 2 zmm,
   which spilled the pointers, ran 3-12% slower than avx2's 6 × 2 ymm on F's layers of K 128 to
   288, 6 × 2 zmm 3-9% faster; 6 × 2 zmm is 8 loads for 12 FMAs, within two loads a cycle.
   dW, whose tile is one run of a single patch: 12 k × 2 zmm (24 of 32), 6 × 2 ymm, 12 × 1. */
#define CONV_FWD_MR2 (CONV_TILE / 2)
#define CONV_FWD_MR1 (CONV_VBYTES == 64 ? 8 : CONV_TILE)
#define CONV_DW_MR2 (CONV_VBYTES == 64 ? CONV_TILE : CONV_TILE / 2)

/* ReLU of a vector, lane by lane x > 0 ? x : 0 (NaN and -0 give 0, as activation.c's). */
GEMM_INLINE cvec CV(conv_relu)(cvec x) {
    typedef int64_t vmask __attribute__((vector_size(sizeof(cvec))));
    const vmask keep = (vmask)(x > (cvec){0});
    return (cvec)((vmask)x & keep);
}

/* Where output channel o (a multiple of CV) starts in W packed (K, npad) in panels of pw: lane
   o % pw of panel o / pw, whose row k is pw values at k·pw from there. */
static inline const REAL *CV(conv_panel_at)(const REAL *Wp, int64_t o, int64_t pw, int64_t K) {
    return Wp + o / pw * pw * K + o % pw;
}

/* z tile (rows zr[r], nv vectors cut to nc) = bias + Σ_{ky, t} a_r[ky·rowlen + t] b_h[(ky·run + t)·pw],
   b_0 = Bp, b_1 = Bp + hs; through the ReLU when relu is set. The panel width pw is nv·CV for
   32-byte vectors (one panel of one or two vectors, b_1 = b_0 + CV) and CV for 64-byte ones
   (a panel a vector): constants, as avx2's kernel always had them. */
GEMM_INLINE void CV(conv_fwd_micro)(REAL *const *zr, const REAL *const *ar, const FN(conv_src) *s,
                                    const REAL *restrict Bp, int64_t hs_any,
                                    const REAL *restrict bias, const int mr, const int nv, int nc,
                                    int relu) {
    const int64_t pw = CONV_VBYTES == 64 ? CONV_VL : nv * CONV_VL;
    const int64_t hs = CONV_VBYTES == 64 ? hs_any : CONV_VL;
    const int64_t kh = s->kh, run = s->run, rowlen = s->rowlen;
    /* callers have taps (K = kh·run > 0): told, GCC keeps acc in registers, where it kept a copy
       on the stack for loops that might not run (stored at each tile's start and end) */
    if (kh < 1 || run < 1) __builtin_unreachable();
    cvec acc[CONV_TILE][2];
    const cvec c0 = *(const cvec_u *)bias;
    cvec c1 = c0;
    if (nv > 1) c1 = *(const cvec_u *)(bias + CONV_VL);
    for (int r = 0; r < mr; r++) acc[r][0] = c0, acc[r][1] = c1;
    for (int64_t ky = 0; ky < kh; ky++) {
        const REAL *a[CONV_TILE];
        for (int r = 0; r < mr; r++) a[r] = ar[r] + ky * rowlen;
        const REAL *b = Bp + ky * run * pw;
        for (int64_t t = 0; t < run; t++, b += pw) {
            const cvec b0 = *(const cvec_u *)b;
            cvec b1 = b0;
            if (nv > 1) b1 = *(const cvec_u *)(b + hs);
            for (int r = 0; r < mr; r++) {
                const REAL x = a[r][t];
                acc[r][0] += x * b0;
                if (nv > 1) acc[r][1] += x * b1;
            }
        }
    }
    if (relu) /* the layer's ReLU, as activation.c's: x > 0 ? x : 0 */
        for (int r = 0; r < mr; r++)
            for (int h = 0; h < nv; h++) acc[r][h] = CV(conv_relu)(acc[r][h]);
    if (nc == nv * CONV_VL) { /* whole vectors: straight from the registers */
        for (int r = 0; r < mr; r++)
            for (int h = 0; h < nv; h++) *(cvec_u *)(zr[r] + h * CONV_VL) = acc[r][h];
        return;
    }
    for (int r = 0; r < mr; r++)
        for (int h = 0; h < nv; h++) {
            if ((h + 1) * CONV_VL <= nc) {
                *(cvec_u *)(zr[r] + h * CONV_VL) = acc[r][h];
                continue;
            }
            for (int l = 0; l < CONV_VL; l++)
                if (h * CONV_VL + l < nc) zr[r][h * CONV_VL + l] = acc[r][h][l];
        }
}

/* dW tiles of two vectors past avx2's 6 rows (64-byte vectors only). */
#if CONV_VBYTES == 64
#define CONV_WIDE_CASES(f) f(7, 2) f(8, 2) f(9, 2) f(10, 2) f(11, 2) f(12, 2)
#else
#define CONV_WIDE_CASES(f)
#endif

/* z of one sample, the N values of patch (i, j) at z + i·zi + j·zj, = b + the convolution of s
   with Wp (conv_pack's panels of pw = conv_pw(N, run); N > 1 or runs shorter than VL, and
   pw = 2·VL for 64-byte vectors), bp (npad,) the bias in panels (zeros for none); through the
   ReLU if relu. Groups of two vectors of output channels, each in tiles of at most 12 patches. */
CONV_CLONES
static void CV(conv_fwd_panels)(REAL *restrict z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                                const REAL *restrict Wp, const REAL *restrict bp, int64_t N, int relu) {
    const int64_t P = s->gh * s->gw, K = s->kh * s->run, pw = FN(conv_pw)(N, s->run);
    const int64_t npad = (N + pw - 1) / pw * pw;
    const int scatter = zj > N; /* outputs sw > 1 pixels apart: a phase's (conv_prefetch_out) */
    for (int64_t o0 = 0; o0 < N; o0 += 2 * CONV_VL) {
        const int nv = npad - o0 > CONV_VL ? 2 : 1;
        const int nc = (int)(N - o0 < nv * CONV_VL ? N - o0 : nv * CONV_VL);
        const REAL *B = CV(conv_panel_at)(Wp, o0, pw, K), *bias = bp + o0;
        const int64_t hs = CV(conv_panel_at)(Wp, o0 + CONV_VL, pw, K) - B;
        int64_t nt, low, taller;
        FN(conv_tiles)(P, nv > 1 ? CONV_FWD_MR2 : CONV_FWD_MR1, &nt, &low, &taller);
        int64_t i = 0, j = 0;
        for (int64_t t = 0; t < nt; t++) {
            const int mr = (int)(low + (t < taller));
            const REAL *ar[CONV_TILE];
            REAL *zr[CONV_TILE];
            FN(conv_tile_ptrs)(ar, zr, s, z + o0, zi, zj, &i, &j, mr);
            if (scatter && t + 1 < nt) /* the next tile's outputs, for writing */
                FN(conv_prefetch_out)(z + o0, zi, zj, s->gw, i, j, (int)(low + (t + 1 < taller)), nc);
#define CONV_FWD_CASE(m, v) case m: CV(conv_fwd_micro)(zr, ar, s, B, hs, bias, m, v, nc, relu); break;
            if (nv > 1) {
                switch (mr) { CONV_FWD_CASE(1, 2) CONV_FWD_CASE(2, 2) CONV_FWD_CASE(3, 2)
                              CONV_FWD_CASE(4, 2) CONV_FWD_CASE(5, 2) CONV_FWD_CASE(6, 2) }
            } else {
                switch (mr) { CONV_FWD_CASE(1, 1) CONV_FWD_CASE(2, 1) CONV_FWD_CASE(3, 1)
                              CONV_FWD_CASE(4, 1) CONV_FWD_CASE(5, 1) CONV_FWD_CASE(6, 1)
                              CONV_FWD_CASE(7, 1) CONV_FWD_CASE(8, 1) CONV_FWD_CASE(9, 1)
                              CONV_FWD_CASE(10, 1) CONV_FWD_CASE(11, 1) CONV_FWD_CASE(12, 1) }
            }
#undef CONV_FWD_CASE
        }
    }
}

/* dWᵀ tile: rows r < mr (k = k0 + r, ldw apart), nv vectors of o, += Σ_p patch_p[off + r] dz[p, :]
   over the sample's patches (dz rows ldz apart, at the tile's first o). */
GEMM_INLINE void CV(conv_dw_micro)(REAL *restrict dwt, int64_t ldw, const FN(conv_src) *s,
                                   int64_t off, const REAL *restrict dz, int64_t ldz, const int mr,
                                   const int nv) {
    cvec acc[CONV_TILE][2];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = *(const cvec_u *)(dwt + r * ldw + v * CONV_VL);
    for (int64_t i = 0; i < s->gh; i++) {
        const REAL *a = s->img + i * s->si + off;
        for (int64_t j = 0; j < s->gw; j++, a += s->sj, dz += ldz) {
            const cvec d0 = *(const cvec_u *)dz;
            cvec d1 = d0;
            if (nv > 1) d1 = *(const cvec_u *)(dz + CONV_VL);
            for (int r = 0; r < mr; r++) {
                const REAL x = a[r];
                acc[r][0] += x * d0;
                if (nv > 1) acc[r][1] += x * d1;
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) *(cvec_u *)(dwt + r * ldw + v * CONV_VL) = acc[r][v];
}

/* Columns [o_lo, o_hi) (a multiple of CV wide) of dWᵀ (K, oc) += Σ_p patch_pᵀ dz[p, :] over one
   sample (dz's rows ldz apart). Tiles of k stay inside one run (their values at constant offsets from the patch);
   vectors of o in pairs. */
CONV_CLONES
static void CV(conv_dw_tiles)(REAL *restrict dwt, const FN(conv_src) *s, const REAL *restrict dz,
                              int64_t ldz, int64_t oc, int64_t o_lo, int64_t o_hi) {
    for (int64_t o0 = o_lo; o0 < o_hi; o0 += 2 * CONV_VL) {
        const int nv = o_hi - o0 >= 2 * CONV_VL ? 2 : 1;
        int64_t nt, low, taller;
        FN(conv_tiles)(s->run, nv > 1 ? CONV_DW_MR2 : CONV_TILE, &nt, &low, &taller);
        for (int64_t ky = 0; ky < s->kh; ky++)
            for (int64_t t = 0, k = 0; t < nt; t++) {
                const int mr = (int)(low + (t < taller));
                REAL *w = dwt + (ky * s->run + k) * oc + o0;
                const int64_t off = ky * s->rowlen + k;
                k += mr;
#define CONV_DW_CASE(m, v) case m: CV(conv_dw_micro)(w, oc, s, off, dz + o0, ldz, m, v); break;
                if (nv > 1) {
                    switch (mr) { CONV_DW_CASE(1, 2) CONV_DW_CASE(2, 2) CONV_DW_CASE(3, 2)
                                  CONV_DW_CASE(4, 2) CONV_DW_CASE(5, 2) CONV_DW_CASE(6, 2)
                                  CONV_WIDE_CASES(CONV_DW_CASE) }
                } else {
                    switch (mr) { CONV_DW_CASE(1, 1) CONV_DW_CASE(2, 1) CONV_DW_CASE(3, 1)
                                  CONV_DW_CASE(4, 1) CONV_DW_CASE(5, 1) CONV_DW_CASE(6, 1)
                                  CONV_DW_CASE(7, 1) CONV_DW_CASE(8, 1) CONV_DW_CASE(9, 1)
                                  CONV_DW_CASE(10, 1) CONV_DW_CASE(11, 1) CONV_DW_CASE(12, 1) }
                }
#undef CONV_DW_CASE
            }
    }
}

/* ---- one output channel, from the image itself ----
 * z (gh, gw) of one sample = b + Σ_k patch_(i, j)[k] w[k], w (kh, kw, C), the patches of p's grid
 * over img (H, W, C) itself (no padded copy), at column stride 1, C a multiple of GEMM_VL. The
 * cells outside the image add nothing: a patch's rows ky outside are skipped, and so are its
 * columns kx outside, which only the at most kw − 1 patches at each end of a row have.
 *
 * The inner patches of an output row (all kw columns inside: jlo = l <= j < jhi) go in groups
 * of G side by side over a window of G + kw − 1 pixels inside the image: for each row ky and
 * vector of channels, the kw vectors of w stay in registers and each pixel's vector is loaded
 * once and multiplied into the up to kw patches that hold it; no checks. The row's first group
 * also gives the patches left of it (j < jlo) from the same pixels, in kw − 1 more accumulators,
 * and its last group the patches right of it (j >= jhi). A patch's sum, the same on both widths:
 *   32 bytes  two accumulators, a0 over the even vectors of channels and a1 over the odd ones
 *             (a0 alone when there is one), each a chain in the order (ky, vector, kx), G = 4:
 *             8 chains in 16 ymm registers, for 2 FMA units of 4 cycles (avx2);
 *   64 bytes  (channels in whole pairs of 32-byte vectors) one zmm accumulator, whose halves are
 *             a0 and a1; G = 16, the last group of a row 4, 8, 12 or 16 wide: up to 16 chains
 *             in the 32 zmm registers, at least what one zmm FMA a cycle (Zen 4) needs;
 * then v = a0 + a1 (the halves), folded by gemm_fold (the same tree in every slot), then b + v,
 * through the ReLU if relu. The bits depend on the shapes alone: not on the width, the group or
 * the thread. A last group that would pass the row's end starts earlier instead, writing some
 * outputs a second time with the same bits. */
#define CONV_DOT1_H (CONV_VBYTES == 64 ? 1 : 2) /* accumulators of a patch */
#define CONV_DOT1_G (CONV_VBYTES == 64 ? 16 : 4) /* patches of a group, at most */
#if CONV_VBYTES == 64 /* x in a register (the 32-byte clones include plain x86-64's, without ymm) */
#define CONV_DOT1_KEEP(x, p) __asm__("" : "+v"(x), "+r"(p))
#else
#define CONV_DOT1_KEEP(x, p) __asm__("" : "+r"(p))
#endif

#if CONV_VBYTES == 64
/* v (CV vectors) -> one vector whose lane r is Σ_l v[r][l], in the tree of the 32-byte path:
 * first the two halves lane by lane (a0 + a1, see above), then gemm_fold's pairs at distance 1,
 * 2, .. CV/4. Each butterfly step at distance s puts its even input in the lanes without bit s
 * and its odd one in those with it, so the input q goes to lane CV/2·(q & 1) + q / 2 first. */
GEMM_INLINE cvec CV(conv_fold_halves)(const cvec *v) {
    typedef CONV_CAT(FN(gemm_ivec), CONV_SFX) civec;
    cvec a[CONV_VL];
    for (int q = 0; q < CONV_VL; q++) a[q] = v[(q & 1) * (CONV_VL / 2) + q / 2];
    int n = CONV_VL;
#define CONV_FOLD_STEP(s)                                                                      \
    if ((s) < CONV_VL) {                                                                       \
        civec lo, hi;                                                                          \
        for (int l = 0; l < CONV_VL; l++) {                                                    \
            lo[l] = (l & (s)) ? CONV_VL + l - (s) : l;                                         \
            hi[l] = (l & (s)) ? CONV_VL + l : l + (s);                                         \
        }                                                                                      \
        n /= 2;                                                                                \
        for (int r = 0; r < CONV_VL / 2; r++)                                                  \
            if (r < n)                                                                         \
                a[r] = __builtin_shuffle(a[2 * r], a[2 * r + 1], lo) +                         \
                       __builtin_shuffle(a[2 * r], a[2 * r + 1], hi);                          \
    }
    CONV_FOLD_STEP(CONV_VL / 2)
    CONV_FOLD_STEP(CONV_VL / 4 >= 1 ? 1 : CONV_VL)
    CONV_FOLD_STEP(CONV_VL / 4 >= 2 ? 2 : CONV_VL)
    CONV_FOLD_STEP(CONV_VL / 4 >= 4 ? 4 : CONV_VL)
#undef CONV_FOLD_STEP
    return a[0];
}
#endif

/* z[0 .. G) (patches j0 .. j0 + G − 1 of an output row), and the el patches left of it (z[-e],
   e = 1..el) and er right of it (z[G + e], e < er), from the window of pixels at row0 (nky rows
   rowlen apart, pixel u at row0 + u·C) and w0 (its rows kw·C apart). */
GEMM_INLINE void CV(conv_dot1_group)(REAL *restrict z, const REAL *restrict row0, int64_t rowlen,
                                     const REAL *restrict w0, int64_t C, int64_t nky, int el, int er,
                                     REAL b, int relu, const int G, const int KW) {
    cvec acc[CONV_DOT1_G][CONV_DOT1_H], lft[CONV_DOT1_KW - 1][CONV_DOT1_H], rgt[CONV_DOT1_KW - 1][CONV_DOT1_H];
    for (int h = 0; h < CONV_DOT1_H; h++) {
        for (int r = 0; r < G; r++) acc[r][h] = (cvec){0};
        for (int e = 0; e < KW - 1; e++) lft[e][h] = rgt[e][h] = (cvec){0};
    }
    const int64_t nv = C / CONV_VL;
    for (int64_t ky = 0; ky < nky; ky++) {
        const REAL *row = row0 + ky * rowlen, *wk = w0 + ky * KW * C;
        for (int64_t m = 0; m < nv; m += CONV_DOT1_H)
#pragma GCC unroll 2
            for (int h = 0; h < CONV_DOT1_H; h++) {
                if (CONV_DOT1_H > 1 && m + h >= nv) break;
                const REAL *px = row + (m + h) * CONV_VL, *pw = wk + (m + h) * CONV_VL;
                cvec wv[CONV_DOT1_KW];
#pragma GCC unroll 8
                for (int kx = 0; kx < KW; kx++) wv[kx] = *(const cvec_u *)(pw + kx * C);
                const REAL *pu = px;
#pragma GCC unroll 24
                for (int u = 0; u < G + KW - 1; u++, pu += C) {
                    /* one load of the pixel into a register, and its address one add after the
                       last (not G + kw − 1 offsets hoisted into spilled registers) */
                    cvec x = *(const cvec_u *)pu;
                    CONV_DOT1_KEEP(x, pu);
#pragma GCC unroll 8
                    for (int kx = 0; kx < KW; kx++)
                        if (u - kx >= 0 && u - kx < G) acc[u - kx][h] += x * wv[kx];
                }
                if (el) /* patch −e holds pixel u as its column kx = u + e */
#pragma GCC unroll 8
                    for (int u = 0; u < KW - 1; u++) {
                        const cvec x = *(const cvec_u *)(px + u * C);
#pragma GCC unroll 8
                        for (int kx = u + 1; kx < KW; kx++) lft[kx - u - 1][h] += x * wv[kx];
                    }
                if (er) /* patch G + e holds pixel u as its column kx = u − G − e */
#pragma GCC unroll 8
                    for (int u = G; u < G + KW - 1; u++) {
                        const cvec x = *(const cvec_u *)(px + u * C);
#pragma GCC unroll 8
                        for (int kx = 0; kx <= u - G; kx++) rgt[u - G - kx][h] += x * wv[kx];
                    }
            }
    }
    /* the sums: the group's patches in folds of FL, each stored whole (through a copy on the stack
       for a last fold of fewer); then, in the row's first or last group, the patches beside it */
#if CONV_VBYTES == 64
    typedef cvec fvec;
    typedef cvec_u fvec_u;
#define CONV_DOT1_SUM(a) ((a)[0])
#define CONV_DOT1_FL CONV_VL
#define CONV_DOT1_FOLD CV(conv_fold_halves)
#else
    typedef vreal fvec;
    typedef vreal_u fvec_u;
#define CONV_DOT1_SUM(a) ((a)[0] + (a)[1])
#define CONV_DOT1_FL GEMM_VL
#define CONV_DOT1_FOLD gemm_fold
#endif
    for (int q = 0; q < G; q += CONV_DOT1_FL) {
        fvec v[CONV_DOT1_FL];
        for (int l = 0; l < CONV_DOT1_FL; l++) v[l] = q + l < G ? CONV_DOT1_SUM(acc[q + l]) : (fvec){0};
        fvec t = b + CONV_DOT1_FOLD(v);
        if (relu) t = CV(conv_relu)(t);
        if (q + CONV_DOT1_FL <= G) *(fvec_u *)(z + q) = t;
        else memcpy(z + q, &t, (size_t)(G - q) * sizeof(REAL));
    }
    if (el || er) /* the 2 (kw − 1) beside it: left ones e = 1.., then right ones e = 0.. */
        for (int q = 0; q < 2 * KW - 2; q += CONV_DOT1_FL) {
            fvec v[CONV_DOT1_FL];
            for (int l = 0, k = q; l < CONV_DOT1_FL; l++, k++)
                v[l] = k < KW - 1 ? CONV_DOT1_SUM(lft[k]) : k < 2 * KW - 2 ? CONV_DOT1_SUM(rgt[k - KW + 1]) : (fvec){0};
            fvec t = b + CONV_DOT1_FOLD(v);
            if (relu) t = CV(conv_relu)(t);
            for (int l = 0, k = q; l < CONV_DOT1_FL && k < 2 * KW - 2; l++, k++) {
                if (k < KW - 1 && k < el) z[-1 - k] = t[l];
                if (k >= KW - 1 && k - KW + 1 < er) z[G + k - KW + 1] = t[l];
            }
        }
#undef CONV_DOT1_SUM
#undef CONV_DOT1_FL
#undef CONV_DOT1_FOLD
}

/* The rows of the sample, the inner patches [jlo, jhi) of each in groups (conv_dot1_image). */
GEMM_INLINE void CV(conv_dot1_rows)(REAL *restrict z, const REAL *restrict img, const FN(conv_pimg) *p,
                                    const REAL *restrict w, REAL b, int relu, const int KW) {
    const int64_t C = p->C, rowlen = p->W * C, jlo = p->l;
    const int64_t jhi = p->W - KW + p->l + 1 < p->gw ? p->W - KW + p->l + 1 : p->gw;
    for (int64_t i = 0; i < p->gh; i++, z += p->gw) {
        const int64_t y0 = i * p->sh - p->t;
        const int64_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + p->kh > p->H ? p->H - y0 : p->kh;
        const REAL *row = img + (y0 + ky0) * rowlen - p->l * C, *w0 = w + ky0 * KW * C;
        for (int64_t j = jlo; j < jhi;) {
            /* the row's rest in even groups of about equal widths, at most G, at least 4 (the last
               one ending at jhi, starting earlier if it must) */
            const int64_t rem = jhi - j, left = (rem + CONV_DOT1_G - 1) / CONV_DOT1_G;
            int g = CONV_VBYTES == 32 ? 4 : (int)(((rem + left - 1) / left + 1) / 2 * 2);
            if (g > CONV_DOT1_G) g = CONV_DOT1_G;
            if (g > jhi - jlo) g = (int)((jhi - jlo) / 2 * 2);
            if (g < 4) g = 4;
            const int64_t j0 = j + g <= jhi ? j : jhi - g;
            const int el = j0 == jlo ? (int)jlo : 0, er = j0 + g == jhi ? (int)(p->gw - jhi) : 0;
#define CONV_DOT1_CASE(G_) case G_: CV(conv_dot1_group)(z + j0, row + j0 * C, rowlen, w0, C, ky1 - ky0, el, er, b, relu, G_, KW); break;
            switch (g) {
#if CONV_VBYTES == 64
            CONV_DOT1_CASE(16) CONV_DOT1_CASE(14) CONV_DOT1_CASE(12) CONV_DOT1_CASE(10)
            CONV_DOT1_CASE(8) CONV_DOT1_CASE(6)
#endif
            default: CONV_DOT1_CASE(4)
            }
#undef CONV_DOT1_CASE
            j = j0 + g;
        }
    }
}

CONV_CLONES
static void CV(conv_dot1_image)(REAL *restrict z, const REAL *restrict img, const FN(conv_pimg) *p,
                                const REAL *restrict w, REAL b, int relu) {
    switch (p->kw) {
    case 1: CV(conv_dot1_rows)(z, img, p, w, b, relu, 1); break;
    case 2: CV(conv_dot1_rows)(z, img, p, w, b, relu, 2); break;
    case 3: CV(conv_dot1_rows)(z, img, p, w, b, relu, 3); break;
    case 4: CV(conv_dot1_rows)(z, img, p, w, b, relu, 4); break;
    default: CV(conv_dot1_rows)(z, img, p, w, b, relu, CONV_DOT1_KW); break;
    }
}
#undef CONV_DOT1_KEEP
#undef CONV_DOT1_G
#undef CONV_DOT1_H

#if CONV_VBYTES == 64
/* dW (1, 3, 3, C) += Σ_p dz[p] patch_p over one sample, from the image img (H, W, C) itself, for
 * one output channel, a 3 × 3 kernel at stride 1 and C in nc = 1 or 2 vectors: conv_dwk3_image's
 * sums, each element's patches added in order (the same bits), but the whole dW in 9·nc
 * accumulators (18 chains) over one pass of the image, where conv_dwk3_image makes three of 3·nc
 * 32-byte ones: each pixel's vectors are loaded once and multiplied into the up to 9 taps
 * (ky, kx) whose patch (i = y + t − ky, j = x + l − kx) holds it, from three rows of dz. Rows and
 * columns of patches outside the grid are skipped; the inner pixels of inner rows, unchecked. */
static int CV(conv_dw33_fits)(const FN(conv_pimg) *p) {
    return p->sh == 1 && p->sw == 1 && p->kh == 3 && p->kw == 3 && p->C % CONV_VL == 0 &&
           p->C / CONV_VL <= 2;
}
GEMM_INLINE void CV(conv_dw33_pixel)(cvec (*acc)[3][2], const REAL *restrict px,
                                     const REAL *const *d, const int *ok, int64_t j0, int64_t gw,
                                     const int NC, const int CHK_KY, const int CHK_KX) {
    cvec x[2];
    for (int m = 0; m < NC; m++) x[m] = *(const cvec_u *)(px + m * CONV_VL);
    for (int ky = 0; ky < 3; ky++) {
        if (CHK_KY && !ok[ky]) continue;
        for (int kx = 0; kx < 3; kx++) {
            if (CHK_KX && (j0 - kx < 0 || j0 - kx >= gw)) continue;
            const REAL g = d[ky][j0 - kx];
            for (int m = 0; m < NC; m++) acc[ky][kx][m] += g * x[m];
        }
    }
}
GEMM_INLINE void CV(conv_dw33_rows)(REAL *restrict dw, const REAL *restrict img, const FN(conv_pimg) *p,
                                    const REAL *restrict dz, const int NC) {
    cvec acc[3][3][2];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            for (int m = 0; m < NC; m++) acc[ky][kx][m] = (cvec){0};
    const int64_t C = p->C, W = p->W, gw = p->gw, l = p->l;
    /* the columns x whose three patches j = x + l − kx are all in the grid: [xa, xb) */
    const int64_t xa = 2 - l > 0 ? 2 - l : 0, xb0 = gw - l < W ? gw - l : W, xb = xb0 > xa ? xb0 : xa;
    for (int64_t y = 0; y < p->H; y++) {
        const REAL *row = img + y * W * C, *d[3];
        int ok[3], all = 1;
        for (int ky = 0; ky < 3; ky++) {
            const int64_t i = y + p->t - ky;
            ok[ky] = i >= 0 && i < p->gh;
            all &= ok[ky];
            d[ky] = dz + i * gw; /* the row of dz of patches (i, ·) */
        }
        int64_t x = 0;
        for (; x < xa && x < W; x++) CV(conv_dw33_pixel)(acc, row + x * C, d, ok, x + l, gw, NC, 1, 1);
        if (all)
            for (; x < xb; x++) CV(conv_dw33_pixel)(acc, row + x * C, d, ok, x + l, gw, NC, 0, 0);
        else
            for (; x < xb; x++) CV(conv_dw33_pixel)(acc, row + x * C, d, ok, x + l, gw, NC, 1, 0);
        for (; x < W; x++) CV(conv_dw33_pixel)(acc, row + x * C, d, ok, x + l, gw, NC, 1, 1);
    }
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            for (int m = 0; m < NC; m++) {
                cvec_u *w = (cvec_u *)(dw + (ky * 3 + kx) * C + m * CONV_VL);
                *w = *w + acc[ky][kx][m];
            }
}
static void CV(conv_dw33_image)(REAL *restrict dw, const REAL *restrict img, const FN(conv_pimg) *p,
                                const REAL *restrict dz) {
    if (p->C == CONV_VL) CV(conv_dw33_rows)(dw, img, p, dz, 1);
    else CV(conv_dw33_rows)(dw, img, p, dz, 2);
}

/* The 3 × 3 kernels over one channel (run 3, K 9: a grayscale image's first layer, and the din of
 * a layer to one channel; its dW), with the 32 registers of x86-64-v4:
 *   forward  a group's 9 × nv vectors of W stay in registers over all the sample's patches, 6 at
 *            a time, with 6·nv accumulators (30 registers for nv = 2);
 *   dW       the whole dWᵀ tile of 9 k × nv vectors of o (18 accumulators for nv = 2) over the
 *            sample's patches, one sweep instead of three tiles of 3 k.
 * Each element is conv_fwd_micro's chain, or conv_dw_micro's: the same bits. */
static int CV(conv_k9_fits)(const FN(conv_src) *s, int64_t N) {
    return s->kh == 3 && s->run == 3 && N % CONV_VL == 0 && FN(conv_pw)(N, s->run) == 2 * GEMM_VL;
}

/* z for the group of nv vectors of output channels at o0 (whole vectors), as conv_fwd_panels. */
GEMM_INLINE void CV(conv_k9_group)(REAL *restrict z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                                   const REAL *restrict B, int64_t hs, int64_t pw,
                                   const REAL *restrict bias, int relu, const int nv) {
    enum { MR = 6 };
    const int64_t P = s->gh * s->gw, full = P / MR * MR, rl = s->rowlen;
    cvec w[9][2];
    for (int k = 0; k < 9; k++)
        for (int h = 0; h < nv; h++) w[k][h] = *(const cvec_u *)(B + k * pw + h * hs);
    int64_t i = 0, j = 0;
    for (int64_t q = 0; q < full; q += MR) {
        const REAL *ar[MR];
        REAL *zr[MR];
        FN(conv_tile_ptrs)(ar, zr, s, z, zi, zj, &i, &j, MR);
        cvec acc[MR][2];
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < nv; h++) acc[r][h] = *(const cvec_u *)(bias + h * CONV_VL);
        for (int ky = 0; ky < 3; ky++)
            for (int t = 0; t < 3; t++)
                for (int r = 0; r < MR; r++) {
                    const REAL x = ar[r][ky * rl + t];
                    for (int h = 0; h < nv; h++) acc[r][h] += x * w[ky * 3 + t][h];
                }
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < nv; h++)
                *(cvec_u *)(zr[r] + h * CONV_VL) = relu ? CV(conv_relu)(acc[r][h]) : acc[r][h];
    }
    if (full == P) return;
    const REAL *ar[MR];
    REAL *zr[MR];
    FN(conv_tile_ptrs)(ar, zr, s, z, zi, zj, &i, &j, (int)(P - full));
    switch (P - full) { /* the last patches, by the generic micro-kernel */
#define CONV_K9_CASE(m) case m: CV(conv_fwd_micro)(zr, ar, s, B, hs, bias, m, nv, nv * CONV_VL, relu); break;
    CONV_K9_CASE(1) CONV_K9_CASE(2) CONV_K9_CASE(3) CONV_K9_CASE(4) CONV_K9_CASE(5)
#undef CONV_K9_CASE
    }
}
static void CV(conv_k9_sample)(REAL *restrict z, int64_t zi, int64_t zj, const FN(conv_src) *s,
                               const REAL *restrict Wp, const REAL *restrict bp, int64_t N, int relu) {
    const int64_t pw = 2 * GEMM_VL;
    for (int64_t o0 = 0; o0 < N; o0 += 2 * CONV_VL) {
        const REAL *B = CV(conv_panel_at)(Wp, o0, pw, 9);
        const int64_t hs = CV(conv_panel_at)(Wp, o0 + CONV_VL, pw, 9) - B;
        if (N - o0 >= 2 * CONV_VL) CV(conv_k9_group)(z + o0, zi, zj, s, B, hs, pw, bp + o0, relu, 2);
        else CV(conv_k9_group)(z + o0, zi, zj, s, B, hs, pw, bp + o0, relu, 1);
    }
}

/* Columns [0, o_hi) (whole vectors) of dWᵀ (9, oc), for a 3 × 3 kernel over one channel. */
static int CV(conv_dw9_fits)(const FN(conv_src) *s) { return s->kh == 3 && s->run == 3; }
GEMM_INLINE void CV(conv_dw9_group)(REAL *restrict dwt, const FN(conv_src) *s, const REAL *restrict d,
                                    int64_t oc, const int nv) {
    const int64_t rl = s->rowlen;
    cvec acc[9][2];
    for (int k = 0; k < 9; k++)
        for (int h = 0; h < nv; h++) acc[k][h] = *(const cvec_u *)(dwt + k * oc + h * CONV_VL);
    for (int64_t i = 0; i < s->gh; i++) {
        const REAL *a = s->img + i * s->si;
        for (int64_t j = 0; j < s->gw; j++, a += s->sj, d += oc) {
            cvec dv[2];
            for (int h = 0; h < nv; h++) dv[h] = *(const cvec_u *)(d + h * CONV_VL);
            for (int ky = 0; ky < 3; ky++)
                for (int t = 0; t < 3; t++) {
                    const REAL x = a[ky * rl + t];
                    for (int h = 0; h < nv; h++) acc[ky * 3 + t][h] += x * dv[h];
                }
        }
    }
    for (int k = 0; k < 9; k++)
        for (int h = 0; h < nv; h++) *(cvec_u *)(dwt + k * oc + h * CONV_VL) = acc[k][h];
}
static void CV(conv_dw9_sample)(REAL *restrict dwt, const FN(conv_src) *s, const REAL *restrict dz,
                                int64_t oc, int64_t o_hi) {
    for (int64_t o0 = 0; o0 < o_hi; o0 += 2 * CONV_VL) {
        if (o_hi - o0 >= 2 * CONV_VL) CV(conv_dw9_group)(dwt + o0, s, dz + o0, oc, 2);
        else CV(conv_dw9_group)(dwt + o0, s, dz + o0, oc, 1);
    }
}
#endif

#undef CONV_WIDE_CASES
#undef CONV_DW_MR2
#undef CONV_FWD_MR2
#undef CONV_FWD_MR1
#undef CONV_VL
#undef cvec_u
#undef cvec
#undef CV
#undef CONV_FN
#undef CONV_CAT
#undef CONV_CAT_
#undef CONV_VBYTES
#undef CONV_SFX
#undef CONV_CLONES
