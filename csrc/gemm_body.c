/* gemm_body.c (template over REAL and a vector width, included by gemm.c once per path):
 * the product's kernels over vectors of GEMM_VBYTES bytes. gemm.c sets GEMM_VBYTES (32 or 64)
 * and GEMM_SFX (the suffix of every name defined here: _avx512, _avx2, or none) and the target
 * the compiler builds for; the shapes, block sizes KC and MC, and every sum's order are the
 * same for every width (see gemm.c). */

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define vreal GEMM_CAT(vreal, GEMM_SFX)
#define vreal_u GEMM_CAT(vreal_u, GEMM_SFX)
#define gemm_ivec_f32 GEMM_CAT(gemm_ivec_f32, GEMM_SFX)
#define gemm_ivec_f64 GEMM_CAT(gemm_ivec_f64, GEMM_SFX)
#define gemm_fold GEMM_CAT(gemm_fold, GEMM_SFX)
#define gemm_tail_x GEMM_CAT(gemm_tail_x, GEMM_SFX)
#define gemm_dot_rows GEMM_CAT(gemm_dot_rows, GEMM_SFX)
#define gemm_row_block GEMM_CAT(gemm_row_block, GEMM_SFX)
#define gemm_store_cols GEMM_CAT(gemm_store_cols, GEMM_SFX)
#define gemm_small GEMM_CAT(gemm_small, GEMM_SFX)
#define gemm_transpose GEMM_CAT(gemm_transpose, GEMM_SFX)
#define gemm_pack_b GEMM_CAT(gemm_pack_b, GEMM_SFX)
#define gemm_pack_a GEMM_CAT(gemm_pack_a, GEMM_SFX)
#define gemm_micro_rows GEMM_CAT(gemm_micro_rows, GEMM_SFX)
#define gemm_micro GEMM_CAT(gemm_micro, GEMM_SFX)
#define gemm_blocked GEMM_CAT(gemm_blocked, GEMM_SFX)
#define gemm_tiny_micro GEMM_CAT(gemm_tiny_micro, GEMM_SFX)
#define gemm_tiny_tile GEMM_CAT(gemm_tiny_tile, GEMM_SFX)
#define gemm_tiny GEMM_CAT(gemm_tiny, GEMM_SFX)
#define gemm_tiny_fits GEMM_CAT(gemm_tiny_fits, GEMM_SFX)
#define gemm_small_fits GEMM_CAT(gemm_small_fits, GEMM_SFX)
#define gemm_job GEMM_CAT(gemm_job, GEMM_SFX)
#define gemm_task GEMM_CAT(gemm_task, GEMM_SFX)
#define gemm_pack_task GEMM_CAT(gemm_pack_task, GEMM_SFX)
#define gemm_kblock GEMM_CAT(gemm_kblock, GEMM_SFX)
#define gemm_run GEMM_CAT(gemm_run, GEMM_SFX)

/* vreal: one vector (8 or 16 floats, 4 or 8 doubles); vreal_u: the same, at any REAL alignment. */
typedef REAL vreal __attribute__((vector_size(GEMM_VBYTES)));
typedef REAL vreal_u __attribute__((vector_size(GEMM_VBYTES), aligned(sizeof(REAL)), may_alias));

/* MR × NR = MR rows × 2 vectors, 2·MR accumulators: 12 of the 16 ymm registers (enough
   independent FMA chains for 2 FMA units × 4 cycles of latency, and 4 left for B and the A
   broadcast), or 24 of the 32 zmm ones (the A broadcasts then come from memory). NC: the
   columns of the packed B slab (gemm_bpack, 1 MB). */
#define GEMM_VL ((int)(GEMM_VBYTES / sizeof(REAL)))
#define GEMM_MR (GEMM_VBYTES == 64 ? 12 : 6)
#define GEMM_NR (2 * GEMM_VL)
#define GEMM_NC (GEMM_BPACK / GEMM_KC / GEMM_NR * GEMM_NR)

/* Shuffle masks of the butterflies below (transposes and folds of VL vectors). */
typedef int32_t gemm_ivec_f32 __attribute__((vector_size(GEMM_VBYTES)));
typedef int64_t gemm_ivec_f64 __attribute__((vector_size(GEMM_VBYTES)));
#define GEMM_LO(s, l) (((l) & (s)) ? GEMM_VL + (l) - (s) : (l)) /* x[l], or y[l-s] where l has bit s */
#define GEMM_HI(s, l) (((l) & (s)) ? GEMM_VL + (l) : (l) + (s))  /* x[l+s], or y[l] where l has bit s */
#define GEMM_MASK4(f, s, o) f(s, (o)), f(s, (o) + 1), f(s, (o) + 2), f(s, (o) + 3)
#if GEMM_VBYTES == 64
#define GEMM_MASK_f32(f, s) {GEMM_MASK4(f, s, 0), GEMM_MASK4(f, s, 4), GEMM_MASK4(f, s, 8), GEMM_MASK4(f, s, 12)}
#define GEMM_MASK_f64(f, s) {GEMM_MASK4(f, s, 0), GEMM_MASK4(f, s, 4)}
#else
#define GEMM_MASK_f32(f, s) {GEMM_MASK4(f, s, 0), GEMM_MASK4(f, s, 4)}
#define GEMM_MASK_f64(f, s) {GEMM_MASK4(f, s, 0)}
#endif

/* ---- matrix-vector helpers: one row of inp (B = 1), for net.c's fused layers ---- */

/* v (VL vectors) -> one vector whose lane r is Σ_l v[r][l]. Pairs fold with the butterfly's
 * shuffles: at distance s, lanes with bit s take y's pair sums, the others x's, so after
 * s = 1, 2, .. VL/2 lane r holds row r. VL - 1 adds per vector instead of a horizontal sum each. */
#define GEMM_FOLD(s)                                                                       \
    if ((s) < GEMM_VL)                                                                     \
        for (int r = 0; r < GEMM_VL / (2 * (s)); r++) {                                    \
            const FN(gemm_ivec) lo = FN(GEMM_MASK)(GEMM_LO, s), hi = FN(GEMM_MASK)(GEMM_HI, s); \
            const vreal x = v[2 * r], y = v[2 * r + 1];                                    \
            v[r] = __builtin_shuffle(x, y, lo) + __builtin_shuffle(x, y, hi);              \
        }
GEMM_INLINE vreal gemm_fold(vreal *v) {
    GEMM_FOLD(1)
    GEMM_FOLD(2)
    GEMM_FOLD(4)
    GEMM_FOLD(8)
    return v[0];
}

/* The vector of x (K,) ending at K, zero in the lanes that the whole vectors before it already
   covered: with it, a last vector of a row ending at K adds only its new k. Needs K >= VL. */
GEMM_INLINE vreal gemm_tail_x(const REAL *x, int64_t K) {
    vreal xt = *(const vreal_u *)(x + K - GEMM_VL);
    const int64_t seen = GEMM_VL - K % GEMM_VL; /* lanes before the tail, when K % VL != 0 */
    for (int l = 0; l < GEMM_VL; l++)
        if (K % GEMM_VL && l < seen) xt[l] = 0;
    return xt;
}

/* Lane r = Σ_k w[r][k] x[k] over k < K, for VL rows w[r] of a matrix (·, K): VL dot products at
 * once, each in its own vector of partial sums, folded at the end. K >= VL: the last, partial
 * vector of k is the one ending at K, times xt = gemm_tail_x(x, K). K < VL: rows read element
 * by element, x zero-padded in xt. Reads nothing outside the rows. */
GEMM_INLINE vreal gemm_dot_rows(const REAL *const *w, const REAL *x, vreal xt, int64_t K) {
    vreal acc[GEMM_VL];
    for (int r = 0; r < GEMM_VL; r++) acc[r] = (vreal){0};
    if (K < GEMM_VL) {
        for (int r = 0; r < GEMM_VL; r++) {
            vreal wr = {0};
            for (int k = 0; k < GEMM_VL; k++) /* not "k < K": GCC would make that a memcpy call */
                if (k < K) wr[k] = w[r][k];
            acc[r] = wr * xt;
        }
        return gemm_fold(acc);
    }
    int64_t k = 0;
    for (; k + GEMM_VL <= K; k += GEMM_VL) {
        const vreal xv = *(const vreal_u *)(x + k);
        for (int r = 0; r < GEMM_VL; r++) acc[r] += *(const vreal_u *)(w[r] + k) * xv;
    }
    if (k < K)
        for (int r = 0; r < GEMM_VL; r++) acc[r] += *(const vreal_u *)(w[r] + K - GEMM_VL) * xt;
    return gemm_fold(acc);
}

/* ---- small path ---- */

/* c (nv · VL,) = [c +] Σ_k a[k·ak] b[k·N + :], for nv <= 4 vectors of columns of B (K, N),
 * with the sums in registers: an axpy into C in memory would chain every k through a store. */
GEMM_INLINE void gemm_row_block(REAL *c, const REAL *a, int64_t ak, const REAL *b, int64_t N,
                                int64_t K, int nv, int accumulate) {
    vreal s[4] = {{0}};
    for (int64_t k = 0; k < K; k++, b += N) {
        const REAL x = a[k * ak];
        for (int v = 0; v < 4; v++)
            if (v < nv) s[v] += x * *(const vreal_u *)(b + v * GEMM_VL);
    }
    for (int v = 0; v < nv; v++) {
        vreal_u *cv = (vreal_u *)(c + v * GEMM_VL);
        if (accumulate) *cv += s[v];
        else *cv = s[v];
    }
}

/* Stores (or adds, when accumulate) the vector t of columns j0 .. j0+VL of a row c of C (N,)
 * computed for columns j..: a whole vector when j + VL <= N; else the last group, whose lanes
 * before j - j0 are columns already stored and those past N do not exist. */
GEMM_INLINE void gemm_store_cols(REAL *c, vreal t, int64_t j, int64_t j0, int64_t N, int accumulate) {
    if (j + GEMM_VL <= N) {
        vreal_u *cv = (vreal_u *)(c + j);
        if (accumulate) *cv += t;
        else *cv = t;
        return;
    }
    for (int64_t l = j - j0; l < GEMM_VL && j0 + l < N; l++)
        c[j0 + l] = accumulate ? c[j0 + l] + t[l] : t[l];
}

/* C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C], one row of C at a time, no buffers.
 * B (K, N): C[i, j..j+VL) = Σ_k op(A)[i,k] B[k, j..j+VL), 4, then 1 vector of columns at a time;
 *   a last vector ending at column N covers the rest (its overlap recomputes the same values).
 *   Fewer than VL columns: one vector, lanes past N unused (B's rows read as whole vectors
 *   while they stay inside B).
 * B (N, K), A (M, K): C[i, j..j+VL) = VL dot products of A's row i with B's rows j.. at once
 *   (gemm_dot_rows), the last group the VL rows ending at N (or repeating row N-1); for K < VL,
 *   VL columns of Bᵀ in K vectors, times A[i, k].
 * B (N, K), A (K, M): C[i,j] = op(A)[i,:] · B[j,:], one at a time. */
static void gemm_small(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                       int transA, int transB, int accumulate) {
    if (transB && !transA && K < GEMM_VL) {
        /* VL columns of B (N, K) at a time, transposed once into K vectors bc[k] = B[j.., k]:
           then C[i, j..j+VL) = Σ_k A[i,k] bc[k], K FMAs per VL outputs. */
        for (int64_t j = 0; j < N; j += GEMM_VL) {
            const int64_t j0 = j + GEMM_VL <= N ? j : (N >= GEMM_VL ? N - GEMM_VL : 0);
            vreal bc[GEMM_VL];
            for (int k = 0; k < GEMM_VL; k++) {
                vreal col = {0};
                for (int r = 0; r < GEMM_VL; r++)
                    col[r] = k < K ? B[(j0 + r < N ? j0 + r : N - 1) * K + k] : 0;
                bc[k] = col;
            }
            for (int64_t i = 0; i < M; i++) {
                const REAL *a = A + i * K;
                REAL *c = C + i * N;
                vreal t = {0};
                for (int k = 0; k < GEMM_VL; k++)
                    if (k < K) t += a[k] * bc[k];
                gemm_store_cols(c, t, j, j0, N, accumulate);
            }
        }
        return;
    }
    if (transB && !transA) {
        for (int64_t i = 0; i < M; i++) {
            const REAL *a = A + i * K;
            REAL *c = C + i * N;
            const vreal xt = gemm_tail_x(a, K);
            for (int64_t j = 0; j < N; j += GEMM_VL) {
                const int64_t j0 = j + GEMM_VL <= N ? j : (N >= GEMM_VL ? N - GEMM_VL : 0);
                const REAL *w[GEMM_VL];
                for (int r = 0; r < GEMM_VL; r++) w[r] = B + (j0 + r < N ? j0 + r : N - 1) * K;
                const vreal t = gemm_dot_rows(w, a, xt, K);
                gemm_store_cols(c, t, j, j0, N, accumulate);
            }
        }
        return;
    }
    for (int64_t i = 0; i < M; i++) {
        REAL *c = C + i * N;
        const REAL *a = transA ? A + i : A + i * K;
        const int64_t ak = transA ? M : 1;
        if (!transB && N >= GEMM_VL) {
            int64_t j = 0;
            for (; j + 4 * GEMM_VL <= N; j += 4 * GEMM_VL) gemm_row_block(c + j, a, ak, B + j, N, K, 4, accumulate);
            for (; j + GEMM_VL <= N; j += GEMM_VL) gemm_row_block(c + j, a, ak, B + j, N, K, 1, accumulate);
            if (j < N) {
                REAL t[GEMM_VL]; /* the last VL columns; those before j are already done */
                gemm_row_block(t, a, ak, B + N - GEMM_VL, N, K, 1, 0);
                for (int64_t l = j; l < N; l++)
                    c[l] = accumulate ? c[l] + t[l - (N - GEMM_VL)] : t[l - (N - GEMM_VL)];
            }
        } else if (!transB) {
            /* rows k of B whose VL-vector stays inside B: k N + VL <= K N */
            const int64_t kv = K * N >= GEMM_VL ? (K * N - GEMM_VL) / N + 1 : 0;
            vreal t = {0};
            int64_t k = 0;
            for (; k < kv; k++) t += a[k * ak] * *(const vreal_u *)(B + k * N);
            for (; k < K; k++) {
                vreal b = {0};
                for (int64_t j = 0; j < N; j++) b[j] = B[k * N + j];
                t += a[k * ak] * b;
            }
            for (int64_t j = 0; j < N; j++) c[j] = accumulate ? c[j] + t[j] : t[j];
        } else {
            for (int64_t j = 0; j < N; j++) {
                const REAL *b = B + j * K;
                REAL t = 0;
                for (int64_t k = 0; k < K; k++) t += a[k * M] * b[k];
                c[j] = accumulate ? c[j] + t : t;
            }
        }
    }
}

/* ---- blocked path ---- */

/* v (VL, VL) -> vᵀ, in the registers. Butterfly: at distance s, rows r and r+s (r without bit s)
 * swap their off-diagonal s × s blocks; after s = 1, 2, .. VL/2 the block is transposed. The
 * shuffle masks are constants, so each step is one or two shuffle instructions. */
#define GEMM_BUTTERFLY(s)                                                                  \
    for (int r = 0; r < GEMM_VL; r++)                                                      \
        if (!(r & (s)) && (s) < GEMM_VL) {                                                 \
            const FN(gemm_ivec) lo = FN(GEMM_MASK)(GEMM_LO, s), hi = FN(GEMM_MASK)(GEMM_HI, s); \
            const vreal x = v[r], y = v[r + (s)];                                          \
            v[r] = __builtin_shuffle(x, y, lo);                                            \
            v[r + (s)] = __builtin_shuffle(x, y, hi);                                      \
        }
GEMM_INLINE void gemm_transpose(vreal *v) {
    GEMM_BUTTERFLY(1)
    GEMM_BUTTERFLY(2)
    GEMM_BUTTERFLY(4)
    GEMM_BUTTERFLY(8)
}

/* Bp (kc, NR) = columns j0 .. j0+nr of op(B) over k = p0 .. p0+kc, zero beyond nr.
 * B (K, N): each k is a contiguous run of B's row, copied as two vectors; in a panel cut to
 * nr < NR columns (the last one) they are masked to nr lanes, reading ahead into B's next row
 * but never past B's end (there, element by element). B (N, K): each column j is a contiguous
 * run of B's row j, so this is a transpose, done VL × VL at a time in the registers, with zero
 * rows past nr; the last kc % VL k element by element. */
GEMM_INLINE void gemm_pack_b(REAL *restrict Bp, const REAL *restrict B, int64_t N, int64_t K,
                             int transB, int64_t p0, int64_t kc, int64_t j0, int nr) {
    if (!transB) {
        const REAL *b = B + p0 * N + j0, *end = B + K * N;
        FN(gemm_ivec) m0, m1; /* all ones in the lanes of columns < nr */
        for (int l = 0; l < GEMM_VL; l++) m0[l] = l < nr ? -1 : 0, m1[l] = GEMM_VL + l < nr ? -1 : 0;
        int64_t k = 0;
        for (; k < kc && b + GEMM_NR <= end; k++, b += N, Bp += GEMM_NR) {
            *(vreal *)Bp = (vreal)((FN(gemm_ivec)) * (const vreal_u *)b & m0);
            *(vreal *)(Bp + GEMM_VL) = (vreal)((FN(gemm_ivec)) * (const vreal_u *)(b + GEMM_VL) & m1);
        }
        for (; k < kc; k++, b += N, Bp += GEMM_NR)
            for (int j = 0; j < GEMM_NR; j++) Bp[j] = j < nr ? b[j] : 0;
        return;
    }
    const REAL *b = B + j0 * K + p0;
    int64_t k = 0;
    for (; k + GEMM_VL <= kc; k += GEMM_VL)
        for (int h = 0; h < 2; h++) {
            vreal v[GEMM_VL];
            for (int r = 0; r < GEMM_VL; r++) {
                v[r] = (vreal){0};
                if (h * GEMM_VL + r < nr) v[r] = *(const vreal_u *)(b + (h * GEMM_VL + r) * K + k);
            }
            gemm_transpose(v);
            for (int r = 0; r < GEMM_VL; r++) *(vreal *)(Bp + (k + r) * GEMM_NR + h * GEMM_VL) = v[r];
        }
    for (int j = 0; j < GEMM_NR; j++)
        for (int64_t kk = k; kk < kc; kk++) Bp[kk * GEMM_NR + j] = j < nr ? b[j * K + kk] : 0;
}

/* Ap (kc, MR) = rows i0 .. i0+mr of op(A) over k = p0 .. p0+kc; rows past mr are left unset
 * (never read). Read in place, the MR values of one k are K apart (A (M, K)) or the k are M
 * apart (A (K, M)): for K or M a multiple of 1 KB they crowd a few L1 sets and evict the B
 * micro-panel. Packed, they stream contiguously; the copy is ~1% of the work. */
GEMM_INLINE void gemm_pack_a(REAL *restrict Ap, const REAL *restrict A, int64_t M, int64_t K,
                             int transA, int64_t p0, int64_t kc, int64_t i0, int mr) {
    if (!transA) {
        /* A (M, K): MR rows, each a contiguous run over k, interleaved. */
        const REAL *a = A + i0 * K + p0;
        for (int r = 0; r < mr; r++)
            for (int64_t k = 0; k < kc; k++) Ap[k * GEMM_MR + r] = a[r * K + k];
        return;
    }
    const REAL *a = A + p0 * M + i0;
    if (mr == GEMM_MR) {
        for (int64_t k = 0; k < kc; k++, a += M, Ap += GEMM_MR)
            for (int r = 0; r < GEMM_MR; r++) Ap[r] = a[r];
    } else {
        for (int64_t k = 0; k < kc; k++, a += M, Ap += GEMM_MR)
            for (int r = 0; r < mr; r++) Ap[r] = a[r];
    }
}

/* c (mr, nr) of C (ldc) = [c +] Σ_k a_r[k] Bp[k, :] over k < kc, for an MR × NR tile cut to
 * mr × nr at the edges. Row r of op(A) is read at a + r·rs + k·ks: packed (rs = 1, ks = MR),
 * or in place (A (M, K): rs = K, ks = 1; A (K, M): rs = 1, ks = M). Only the tile's mr rows
 * are computed: gemm_micro inlines one copy per mr, so that the edge tile of 8 rows (6 + 2)
 * costs a third of a full tile, not a whole one. Each element's sum over k is the same. */
GEMM_INLINE void gemm_micro_rows(REAL *c, int64_t ldc, const REAL *restrict a, int64_t rs,
                                 int64_t ks, const REAL *restrict Bp, int64_t kc, const int mr,
                                 int nr, int overwrite) {
    const REAL *ar[GEMM_MR];
    for (int r = 0; r < mr; r++) ar[r] = a + r * rs;
    vreal acc[GEMM_MR][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = (vreal){0};
    int64_t o = 0;
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++, o += ks, Bp += GEMM_NR) {
        const vreal b0 = *(const vreal *)Bp, b1 = *(const vreal *)(Bp + GEMM_VL);
        for (int r = 0; r < mr; r++) {
            const REAL x = ar[r][o];
            acc[r][0] += x * b0;
            acc[r][1] += x * b1;
        }
    }
    for (int r = 0; r < mr; r++) {
        REAL *cr = c + r * ldc;
        int j = 0;
        for (int h = 0; h < 2 && j + GEMM_VL <= nr; h++, j += GEMM_VL) {
            if (overwrite) *(vreal_u *)(cr + j) = acc[r][h];
            else *(vreal_u *)(cr + j) += acc[r][h];
        }
        if (j < nr) {
            const vreal t = acc[r][j / GEMM_VL];
            for (int l = 0; j + l < nr; l++) cr[j + l] = overwrite ? t[l] : cr[j + l] + t[l];
        }
    }
}

GEMM_INLINE void gemm_micro(REAL *c, int64_t ldc, const REAL *restrict a, int64_t rs, int64_t ks,
                            const REAL *restrict Bp, int64_t kc, int mr, int nr, int overwrite) {
#define GEMM_MICRO_CASE(m) \
    case m: gemm_micro_rows(c, ldc, a, rs, ks, Bp, kc, m, nr, overwrite); break;
    switch (mr) { /* every height below GEMM_MR (6 or 12), then GEMM_MR */
        GEMM_MICRO_CASE(1) GEMM_MICRO_CASE(2) GEMM_MICRO_CASE(3) GEMM_MICRO_CASE(4) GEMM_MICRO_CASE(5)
#if GEMM_MR > 6
        GEMM_MICRO_CASE(6) GEMM_MICRO_CASE(7) GEMM_MICRO_CASE(8) GEMM_MICRO_CASE(9) GEMM_MICRO_CASE(10)
        GEMM_MICRO_CASE(11)
#endif
    default: gemm_micro_rows(c, ldc, a, rs, ks, Bp, kc, GEMM_MR, nr, overwrite);
    }
#undef GEMM_MICRO_CASE
}

/* The K blocks: even ones (784 gives 4 × 196, not 3 × 256 + 16). They depend on K alone, which
   is what makes the sums the same for any number of threads. */
static int64_t gemm_kblock(int64_t K) {
    const int64_t nkb = (K + GEMM_KC - 1) / GEMM_KC;
    return (K + nkb - 1) / nkb;
}

/* C (M, N) = op(A) · op(B) [+ C] over one rectangle of MR × NR tiles, row tiles [t0, t1) ×
 * column tiles [u0, u1), with the calling thread's buffers Bp (KC, NC) and Ap (MC, KC).
 * Rectangles share nothing but the inputs, so a thread needs no other to finish its own. The
 * buffers come in as arguments: left to find its thread-local addresses itself, GCC recomputes
 * them inside the micro-kernel loop. Apre, when not NULL, is all of op(A) packed already
 * (gemm_pack_task), and Ap goes unused. */
static void gemm_blocked(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                         int transA, int transB, int accumulate, REAL *Bp, REAL *Ap,
                         const REAL *Apre, int64_t t0, int64_t t1, int64_t u0, int64_t u1) {
    const int64_t kb = gemm_kblock(K), mt = (M + GEMM_MR - 1) / GEMM_MR;
    /* A small op(A) stays in L1 whatever its layout: the micro-kernel reads it in place. The
       arithmetic is the same either way. */
    const int pack_a = (double)M * (double)K * sizeof(REAL) > GEMM_INPLACE_A;
    for (int64_t jc = u0; jc < u1; jc += GEMM_NC / GEMM_NR) {
        const int64_t jn = jc + GEMM_NC / GEMM_NR < u1 ? GEMM_NC / GEMM_NR : u1 - jc;
        for (int64_t pc = 0; pc < K; pc += kb) {
            const int64_t kc = pc + kb < K ? kb : K - pc;
            for (int64_t p = 0; p < jn; p++) {
                const int64_t j0 = (jc + p) * GEMM_NR;
                gemm_pack_b(Bp + p * kc * GEMM_NR, B, N, K, transB, pc, kc, j0,
                            (int)(N - j0 < GEMM_NR ? N - j0 : GEMM_NR));
            }
            const int overwrite = pc == 0 && !accumulate;
            for (int64_t ic = t0; ic < t1; ic += GEMM_MC / GEMM_MR) {
                const int64_t ie = ic + GEMM_MC / GEMM_MR < t1 ? ic + GEMM_MC / GEMM_MR : t1;
                /* The packed panels of rows ic .. ie-1: packed here, or in Apre's block pc. */
                const REAL *ap = Apre ? Apre + pc * mt * GEMM_MR + ic * kc * GEMM_MR : Ap;
                for (int64_t ir = ic; ir < ie && pack_a && !Apre; ir++) {
                    const int64_t i0 = ir * GEMM_MR;
                    gemm_pack_a(Ap + (ir - ic) * kc * GEMM_MR, A, M, K, transA, pc, kc, i0,
                                (int)(M - i0 < GEMM_MR ? M - i0 : GEMM_MR));
                }
                for (int64_t jr = jc; jr < jc + jn; jr++) {
                    const int64_t j0 = jr * GEMM_NR;
                    const int nr = (int)(N - j0 < GEMM_NR ? N - j0 : GEMM_NR);
                    const REAL *bp = Bp + (jr - jc) * kc * GEMM_NR;
                    for (int64_t ir = ic; ir < ie; ir++) {
                        const int64_t i0 = ir * GEMM_MR;
                        const int mr = (int)(M - i0 < GEMM_MR ? M - i0 : GEMM_MR);
                        if (pack_a)
                            gemm_micro(C + i0 * N + j0, N, ap + (ir - ic) * kc * GEMM_MR, 1, GEMM_MR,
                                       bp, kc, mr, nr, overwrite);
                        else if (!transA)
                            gemm_micro(C + i0 * N + j0, N, A + i0 * K + pc, K, 1, bp, kc, mr, nr, overwrite);
                        else
                            gemm_micro(C + i0 * N + j0, N, A + pc * M + i0, 1, M, bp, kc, mr, nr, overwrite);
                    }
                }
            }
        }
    }
}

/* ---- tiny path ---- */

/* c (mr, nv·VL cut to nc) of C (ldc) = [c +] Σ_k a_r[k] b[k, :] over k < K, with a tile of
 * mr rows × nv vectors in the registers: mr <= GEMM_TINY_MR for nv = 2, mr <= 2·GEMM_TINY_MR
 * for nv = 1, so that a full tile has 12 accumulators (more than the 4-cycle FMA latency × 2
 * FMA units) and 3 registers left for b and the broadcast of a. Row r of op(A) is read in place
 * at a + r·rs + k·ks (as gemm_micro); row k of the panel at b + k·ldb. Called with constant mr
 * and nv (gemm_tiny_tile), so that an edge tile computes only its own rows and vectors. */
GEMM_INLINE void gemm_tiny_micro(REAL *c, int64_t ldc, const REAL *restrict a, int64_t rs,
                                 int64_t ks, const REAL *restrict b, int64_t ldb, int64_t K,
                                 int mr, int nv, int nc, int overwrite) {
    vreal acc[2 * GEMM_TINY_MR][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = (vreal){0};
    for (int64_t k = 0; k < K; k++, a += ks, b += ldb) {
        const vreal b0 = *(const vreal_u *)b;
        vreal b1 = b0;
        if (nv > 1) b1 = *(const vreal_u *)(b + GEMM_VL);
        for (int r = 0; r < mr; r++) {
            const REAL x = a[r * rs];
            acc[r][0] += x * b0;
            if (nv > 1) acc[r][1] += x * b1;
        }
    }
    const int full = nc / GEMM_VL; /* whole vectors of the tile's columns: 0 .. nv */
    for (int r = 0; r < mr; r++) {
        REAL *cr = c + r * ldc;
        for (int h = 0; h < nv; h++) {
            if (h < full) {
                if (overwrite) *(vreal_u *)(cr + h * GEMM_VL) = acc[r][h];
                else *(vreal_u *)(cr + h * GEMM_VL) += acc[r][h];
            } else { /* the last, partial vector: through memory, so acc stays in registers */
                REAL t[GEMM_VL];
                *(vreal_u *)t = acc[r][h];
                REAL *cj = cr + h * GEMM_VL;
                for (int l = 0; l < GEMM_VL; l++) /* not "l < nc - ...": GCC makes a memcpy call */
                    if (h * GEMM_VL + l < nc) cj[l] = overwrite ? t[l] : cj[l] + t[l];
            }
        }
    }
}

/* gemm_tiny_micro with mr and nv made constants, one specialization per case. */
GEMM_INLINE void gemm_tiny_tile(REAL *c, int64_t ldc, const REAL *a, int64_t rs, int64_t ks,
                                const REAL *b, int64_t ldb, int64_t K, int mr, int nv, int nc,
                                int overwrite) {
#define GEMM_TINY_CASE(m, v) \
    case m: gemm_tiny_micro(c, ldc, a, rs, ks, b, ldb, K, m, v, nc, overwrite); break;
    if (nv > 1) {
        switch (mr) {
            GEMM_TINY_CASE(1, 2) GEMM_TINY_CASE(2, 2) GEMM_TINY_CASE(3, 2) GEMM_TINY_CASE(4, 2)
            GEMM_TINY_CASE(5, 2) GEMM_TINY_CASE(6, 2)
        }
    } else {
        switch (mr) {
            GEMM_TINY_CASE(1, 1) GEMM_TINY_CASE(2, 1) GEMM_TINY_CASE(3, 1) GEMM_TINY_CASE(4, 1)
            GEMM_TINY_CASE(5, 1) GEMM_TINY_CASE(6, 1) GEMM_TINY_CASE(7, 1) GEMM_TINY_CASE(8, 1)
            GEMM_TINY_CASE(9, 1) GEMM_TINY_CASE(10, 1) GEMM_TINY_CASE(11, 1) GEMM_TINY_CASE(12, 1)
        }
    }
#undef GEMM_TINY_CASE
}

/* C (M, N) = op(A) · op(B) [+ C] when both fit in L1 and K in one block (gemm_tiny_fits).
 * op(A) is read in place. op(B) is read in place when it is B (K, N) with whole vectors per row;
 * otherwise it is packed once, as the blocked path packs it (NR-wide panels, zero beyond N).
 * For each NR-wide panel of op(B), which stays in L1, the rows of C are cut into tiles of at
 * most GEMM_TINY_MR rows (2·GEMM_TINY_MR when the panel is one vector wide), of even heights;
 * the last vector of a row is cut to N, never padded. With K <= KC each C
 * element is one FMA chain over k = 0 .. K-1, added to C at the end: the blocked path's
 * arithmetic, without its packing of A, its 6-row tiles and its loops over blocks. */
static void gemm_tiny(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                      int transA, int transB, int accumulate, REAL *Bp) {
    const int64_t rs = transA ? 1 : K, ks = transA ? M : 1, np = (N + GEMM_NR - 1) / GEMM_NR;
    const int in_place = !transB && N % GEMM_VL == 0;
    for (int64_t p = 0; p < np; p++) {
        const int64_t j0 = p * GEMM_NR;
        const int nc = (int)(N - j0 < GEMM_NR ? N - j0 : GEMM_NR);
        const REAL *b = in_place ? B + j0 : Bp + p * K * GEMM_NR;
        const int64_t ldb = in_place ? N : GEMM_NR;
        if (!in_place) gemm_pack_b(Bp + p * K * GEMM_NR, B, N, K, transB, 0, K, j0, nc);
        /* nt = ceil(M / tile) row tiles of even heights: 32 rows are 6, 6, 5, 5, 5, 5, not
           6 × 5 + 2. The first M % nt tiles have one row more than the others. */
        const int nv = nc > GEMM_VL ? 2 : 1, tr = nv > 1 ? GEMM_TINY_MR : 2 * GEMM_TINY_MR;
        const int64_t nt = (M + tr - 1) / tr, low = M / nt, taller = M % nt;
        for (int64_t t = 0, i0 = 0; t < nt; t++) {
            const int mr = (int)(low + (t < taller));
            gemm_tiny_tile(C + i0 * N + j0, N, A + i0 * rs, rs, ks, b, ldb, K, mr, nv, nc, !accumulate);
            i0 += mr;
        }
    }
}

/* The tiny path's shapes: a few rows at least (fewer: a vector-matrix product, where packing
   B costs as much as using it), one K block, op(A) and op(B) (its panels padded to NR columns)
   each within GEMM_TINY_BYTES, and below the threads' threshold. Shape alone decides. */
static int gemm_tiny_fits(int64_t M, int64_t N, int64_t K, double work) {
    const double np = (double)((N + GEMM_NR - 1) / GEMM_NR * GEMM_NR);
    return M >= GEMM_TINY_MIN_M && K <= GEMM_KC && work < GEMM_THREAD_WORK &&
           (double)M * (double)K * sizeof(REAL) <= GEMM_TINY_BYTES &&
           np * (double)K * sizeof(REAL) <= GEMM_TINY_BYTES;
}

/* The small path's shapes, past the tiny path's (the same on every path). */
static int gemm_small_fits(int64_t M, int64_t N, int transA, int transB, double work) {
    return work < GEMM_SMALL_WORK || M < GEMM_SMALL_M || (N < GEMM_SLIVER_N && transB && !transA);
}

/* One threaded product, cut into ntasks strips of whole tiles (columns or rows). */
typedef struct {
    REAL *C;
    const REAL *A, *B;
    int64_t M, N, K;
    int transA, transB, accumulate;
    int64_t mt, nt;
    int by_cols;
    int64_t ntasks;
    REAL *Apre;      /* all of op(A), packed once for every task, or NULL */
    int64_t npack;   /* tasks of that packing */
} gemm_job;

/* Part i of npack of the packing of all of op(A) into Apre: its row panels, for every K block
   (block pc's panels start at pc · mt · MR, where gemm_blocked looks for them). */
static void gemm_pack_task(void *ctx, int64_t i) {
    const gemm_job *j = ctx;
    const int64_t kb = gemm_kblock(j->K), s0 = j->mt * i / j->npack, s1 = j->mt * (i + 1) / j->npack;
    for (int64_t pc = 0; pc < j->K; pc += kb) {
        const int64_t kc = pc + kb < j->K ? kb : j->K - pc;
        for (int64_t ir = s0; ir < s1; ir++) {
            const int64_t i0 = ir * GEMM_MR;
            gemm_pack_a(j->Apre + pc * j->mt * GEMM_MR + ir * kc * GEMM_MR, j->A, j->M, j->K,
                        j->transA, pc, kc, i0, (int)(j->M - i0 < GEMM_MR ? j->M - i0 : GEMM_MR));
        }
    }
}

/* Strip i of the job, on whichever thread claimed it, with that thread's buffers. */
static void gemm_task(void *ctx, int64_t i) {
    const gemm_job *j = ctx;
    const int64_t n = j->by_cols ? j->nt : j->mt, s0 = n * i / j->ntasks, s1 = n * (i + 1) / j->ntasks;
    gemm_blocked(j->C, j->A, j->B, j->M, j->N, j->K, j->transA, j->transB, j->accumulate,
                 gemm_bpack, gemm_apack, j->Apre, j->by_cols ? 0 : s0, j->by_cols ? j->mt : s1,
                 j->by_cols ? s0 : 0, j->by_cols ? s1 : j->nt);
}

static void gemm_run(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                     int transA, int transB, int accumulate, int nthreads) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) memset(C, 0, (size_t)(M * N) * sizeof(REAL));
        return;
    }
    const double work = (double)M * (double)N * (double)K;
    if (gemm_tiny_fits(M, N, K, work)) {
        gemm_tiny(C, A, B, M, N, K, transA, transB, accumulate, gemm_bpack);
        return;
    }
    if (gemm_small_fits(M, N, transA, transB, work)) {
        gemm_small(C, A, B, M, N, K, transA, transB, accumulate);
        return;
    }
    const int64_t mt = (M + GEMM_MR - 1) / GEMM_MR, nt = (N + GEMM_NR - 1) / GEMM_NR;
    if (nthreads > 1 && work >= GEMM_THREAD_WORK) {
        /* Tasks: GEMM_TASKS_PER_THREAD strips per thread, of columns when there are enough
           (each task then packs only its part of B), else of rows (every task packs all of B,
           which is then narrow). */
        gemm_job job = {C, A, B, M, N, K, transA, transB, accumulate, mt, nt, 0, 0, NULL, 0};
        job.by_cols = nt >= 2 * nthreads || nt >= mt;
        const int64_t strips = job.by_cols ? nt : mt, want = (int64_t)nthreads * GEMM_TASKS_PER_THREAD;
        job.ntasks = strips < want ? strips : want;
        /* Strips of columns all need all of op(A): a first run of tasks packs it once, over its
           row panels, into the caller's shared buffer when it fits there, and every strip reads
           it from there; else each strip packs its own. The packed values, and so the sums,
           are the same either way. */
        if (job.by_cols && (double)M * (double)K * sizeof(REAL) > GEMM_INPLACE_A &&
            (double)(mt * GEMM_MR) * (double)K * sizeof(REAL) <= SIA_GEMM_SHARED_BYTES) {
            job.Apre = sia_gemm_shared.FN(a);
            job.npack = mt < want ? mt : want;
            sia_pool_run(nthreads, job.npack, gemm_pack_task, &job);
        }
        sia_pool_run(nthreads, job.ntasks, gemm_task, &job);
        return;
    }
    gemm_blocked(C, A, B, M, N, K, transA, transB, accumulate, gemm_bpack, gemm_apack, NULL, 0, mt, 0, nt);
}

/* ---- the end of one path: its names go back to being free for the next ---- */
#undef vreal
#undef vreal_u
#undef gemm_ivec_f32
#undef gemm_ivec_f64
#undef gemm_fold
#undef gemm_tail_x
#undef gemm_dot_rows
#undef gemm_row_block
#undef gemm_store_cols
#undef gemm_small
#undef gemm_transpose
#undef gemm_pack_b
#undef gemm_pack_a
#undef gemm_micro_rows
#undef gemm_micro
#undef gemm_blocked
#undef gemm_tiny_micro
#undef gemm_tiny_tile
#undef gemm_tiny
#undef gemm_tiny_fits
#undef gemm_small_fits
#undef gemm_job
#undef gemm_task
#undef gemm_pack_task
#undef gemm_kblock
#undef gemm_run
#undef GEMM_FOLD
#undef GEMM_BUTTERFLY
#undef GEMM_LO
#undef GEMM_HI
#undef GEMM_MASK4
#undef GEMM_MASK_f32
#undef GEMM_MASK_f64
#undef GEMM_NC
#undef GEMM_NR
#undef GEMM_MR
#undef GEMM_SFX
#undef GEMM_CAT
#undef GEMM_CAT_
#ifndef GEMM_KEEP_NAMES /* the baseline keeps GEMM_VL and GEMM_VBYTES for dense.c and conv.c */
#undef GEMM_VL
#undef GEMM_VBYTES
#endif
