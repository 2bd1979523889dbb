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
    cvec acc[CONV_TILE][2];
    const cvec c0 = *(const cvec_u *)bias;
    cvec c1 = c0;
    if (nv > 1) c1 = *(const cvec_u *)(bias + CONV_VL);
    for (int r = 0; r < mr; r++) acc[r][0] = c0, acc[r][1] = c1;
    for (int64_t ky = 0; ky < s->kh; ky++) {
        const REAL *a[CONV_TILE];
        for (int r = 0; r < mr; r++) a[r] = ar[r] + ky * s->rowlen;
        const REAL *b = Bp + ky * s->run * pw;
        for (int64_t t = 0; t < s->run; t++, b += pw) {
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
   sample. Tiles of k stay inside one run (their values at constant offsets from the patch);
   vectors of o in pairs. */
CONV_CLONES
static void CV(conv_dw_tiles)(REAL *restrict dwt, const FN(conv_src) *s, const REAL *restrict dz,
                              int64_t oc, int64_t o_lo, int64_t o_hi) {
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
#define CONV_DW_CASE(m, v) case m: CV(conv_dw_micro)(w, oc, s, off, dz + o0, oc, m, v); break;
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

#if CONV_VBYTES == 64
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
