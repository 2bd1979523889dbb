/* gemm.c (template, see real.h): the matrix product under every dense layer.
 * C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C].
 *
 * Two paths, chosen from the shape alone (never from nthreads), so a given shape always takes
 * the same arithmetic:
 *   - small: plain loops, no packing, no threads, no buffers, for vector-matrix products
 *     (M < MR) and other slivers.
 *   - blocked: GotoBLAS/BLIS style. For each (jc, pc) block, a KC × NC slab of op(B) is packed
 *     into NR-wide micro-panels (one pair of 32-byte vectors per k), and an MC × KC block of
 *     op(A) into MR-row micro-panels (MR scalars per k, broadcast one at a time). An MR × NR
 *     micro-kernel keeps its tile of C in 12 vector registers while it runs over kc.
 *
 *   for jc in my columns, step NC        B slab (KC × NC) in L2/L3
 *     for pc in K, step KC               one partial sum per C element and pc block
 *       pack op(B)[pc, jc] -> Bp
 *       for ic in my rows, step MC       pack op(A)[ic, pc] -> Ap: stays in L2
 *         for jr in jc block, step NR    B micro-panel (KC × NR) stays in L1
 *           for ir in ic block, step MR  micro-kernel: C tile (MR × NR) in registers
 *
 * Threads (OpenMP) each take a rectangle of C, by columns when there are enough, and run the
 * loops above on it with their own buffers. Every C element is the FMA chain over k inside each
 * pc block, added to C block by block in pc order. The pc blocks depend on K alone, so none of
 * that depends on which thread computes the tile: results are bit-identical for any nthreads. */

#if defined(_OPENMP)
#include <omp.h>
#endif

/* x86-64: one clone for AVX2 + FMA (x86-64-v3), one plain; the loader picks once per process. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GEMM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GEMM_CLONES
#endif
#define GEMM_INLINE static inline __attribute__((always_inline))

/* vreal: one 32-byte vector (8 floats, 4 doubles); vreal_u: the same, at any REAL alignment. */
typedef REAL vreal __attribute__((vector_size(32)));
typedef REAL vreal_u __attribute__((vector_size(32), aligned(sizeof(REAL)), may_alias));

/* Block sizes. MR × NR = 6 × (2 vectors) is 12 accumulators: enough independent FMA chains to
   cover 2 FMA units × 4 cycles of latency, with 4 registers left for B and the A broadcast.
   KC × NR × sizeof(REAL) = 16 KB: a B micro-panel fits in the 32 KB L1 next to an A one.
   MC × KC × sizeof(REAL) = 120 KB (float) or 240 KB (double): the A block stays in the 512 KB L2.
   KC × NC × sizeof(REAL) = 1 MB: the packed B slab, per calling thread. */
enum {
    GEMM_VL = 32 / sizeof(REAL),
    GEMM_MR = 6,
    GEMM_NR = 2 * GEMM_VL,
    GEMM_KC = 256,
    GEMM_MC = 120,
    GEMM_NC = (1 << 20) / (GEMM_KC * sizeof(REAL)) / GEMM_NR * GEMM_NR,
};

/* The blocked path wins from a few thousand multiply-adds on (1.5 µs for 32 × 25 × 35, 3-6×
   the small path), even padding a sliver of columns to NR, except for fewer rows than a micro-tile
   (a vector-matrix product, where packing B costs as much as using it) and for a sliver of
   columns that the small path gets as contiguous dot products. Threads start at
   GEMM_THREAD_WORK, where the product takes ~25 µs on one core. */
#define GEMM_SMALL_WORK 2048.0
#define GEMM_THREAD_WORK 1048576.0

/* Each thread's packed B slab and packed A block.
   Thread-local, so concurrent callers and the threads of one call never share them. */
static _Thread_local REAL gemm_bpack[GEMM_KC * GEMM_NC] __attribute__((aligned(64)));
static _Thread_local REAL gemm_apack[GEMM_MC * GEMM_KC] __attribute__((aligned(64)));

/* ---- small path ---- */

/* a (K,), b (K,): Σ_k a[k] b[k], in VL interleaved partial sums, then lane by lane. */
GEMM_INLINE REAL gemm_dot(const REAL *a, const REAL *b, int64_t K) {
    vreal s = {0};
    int64_t k = 0;
    for (; k + GEMM_VL <= K; k += GEMM_VL) s += *(const vreal_u *)(a + k) * *(const vreal_u *)(b + k);
    REAL t = 0;
    for (int l = 0; l < GEMM_VL; l++) t += s[l];
    for (; k < K; k++) t += a[k] * b[k];
    return t;
}

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

/* C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C], one row of C at a time, no buffers.
 * B (K, N): C[i, j..j+VL) = Σ_k op(A)[i,k] B[k, j..j+VL), 4, then 1 vector of columns at a time;
 *   a last vector ending at column N covers the rest (its overlap recomputes the same values).
 * B (N, K): C[i,j] = op(A)[i,:] · B[j,:], a dot product over contiguous rows. */
GEMM_CLONES
static void gemm_small(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                       int transA, int transB, int accumulate) {
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
            for (int64_t j = 0; j < N; j++) {
                REAL s = 0;
                for (int64_t k = 0; k < K; k++) s += a[k * ak] * B[k * N + j];
                c[j] = accumulate ? c[j] + s : s;
            }
        } else {
            for (int64_t j = 0; j < N; j++) {
                const REAL *b = B + j * K;
                REAL t = 0;
                if (transA) for (int64_t k = 0; k < K; k++) t += a[k * M] * b[k];
                else t = gemm_dot(a, b, K);
                c[j] = accumulate ? c[j] + t : t;
            }
        }
    }
}

/* ---- blocked path ---- */

/* v (VL, VL) -> vᵀ, in the registers. Butterfly: at distance s, rows r and r+s (r without bit s)
 * swap their off-diagonal s × s blocks; after s = 1, 2, .. VL/2 the block is transposed. The
 * shuffle masks are constants, so each step is one or two shuffle instructions. */
typedef int32_t gemm_ivec_f32 __attribute__((vector_size(32)));
typedef int64_t gemm_ivec_f64 __attribute__((vector_size(32)));
#define GEMM_LO(s, l) (((l) & (s)) ? GEMM_VL + (l) - (s) : (l)) /* x[l], or y[l-s] where l has bit s */
#define GEMM_HI(s, l) (((l) & (s)) ? GEMM_VL + (l) : (l) + (s))  /* x[l+s], or y[l] where l has bit s */
#define GEMM_MASK_f32(f, s) {f(s, 0), f(s, 1), f(s, 2), f(s, 3), f(s, 4), f(s, 5), f(s, 6), f(s, 7)}
#define GEMM_MASK_f64(f, s) {f(s, 0), f(s, 1), f(s, 2), f(s, 3)}
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
}

/* Bp (kc, NR) = columns j0 .. j0+nr of op(B) over k = p0 .. p0+kc, zero beyond nr.
 * B (K, N): each k is a contiguous run of B's row. B (N, K): each column j is a contiguous run
 * of B's row j, so this is a transpose, done VL × VL at a time in the registers. */
GEMM_INLINE void gemm_pack_b(REAL *restrict Bp, const REAL *restrict B, int64_t N, int64_t K,
                             int transB, int64_t p0, int64_t kc, int64_t j0, int nr) {
    if (!transB) {
        const REAL *b = B + p0 * N + j0;
        if (nr == GEMM_NR) {
            for (int64_t k = 0; k < kc; k++, b += N, Bp += GEMM_NR) {
                *(vreal *)Bp = *(const vreal_u *)b;
                *(vreal *)(Bp + GEMM_VL) = *(const vreal_u *)(b + GEMM_VL);
            }
        } else {
            for (int64_t k = 0; k < kc; k++, b += N, Bp += GEMM_NR)
                for (int j = 0; j < GEMM_NR; j++) Bp[j] = j < nr ? b[j] : 0;
        }
        return;
    }
    const REAL *b = B + j0 * K + p0;
    int64_t k = 0;
    if (nr == GEMM_NR) {
        for (; k + GEMM_VL <= kc; k += GEMM_VL)
            for (int h = 0; h < 2; h++) {
                vreal v[GEMM_VL];
                for (int r = 0; r < GEMM_VL; r++) v[r] = *(const vreal_u *)(b + (h * GEMM_VL + r) * K + k);
                gemm_transpose(v);
                for (int r = 0; r < GEMM_VL; r++) *(vreal *)(Bp + (k + r) * GEMM_NR + h * GEMM_VL) = v[r];
            }
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

/* c (mr, nr) of C (ldc) = [c +] Σ_k Ap[k, r] Bp[k, :] over k < kc, for an MR × NR tile cut to
 * mr × nr at the edges. Rows past mr repeat the last one and are never stored. */
GEMM_INLINE void gemm_micro(REAL *c, int64_t ldc, const REAL *restrict Ap, const REAL *restrict Bp,
                            int64_t kc, int mr, int nr, int overwrite) {
    const REAL *ar[GEMM_MR];
    for (int r = 0; r < GEMM_MR; r++) ar[r] = Ap + (r < mr ? r : mr - 1);
    vreal acc[GEMM_MR][2];
    for (int r = 0; r < GEMM_MR; r++) acc[r][0] = acc[r][1] = (vreal){0};
    int64_t o = 0;
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++, o += GEMM_MR, Bp += GEMM_NR) {
        const vreal b0 = *(const vreal *)Bp, b1 = *(const vreal *)(Bp + GEMM_VL);
        for (int r = 0; r < GEMM_MR; r++) {
            const REAL x = ar[r][o];
            acc[r][0] += x * b0;
            acc[r][1] += x * b1;
        }
    }
    if (mr == GEMM_MR && nr == GEMM_NR) {
        for (int r = 0; r < GEMM_MR; r++) {
            vreal_u *cr = (vreal_u *)(c + r * ldc);
            if (overwrite) cr[0] = acc[r][0], cr[1] = acc[r][1];
            else cr[0] += acc[r][0], cr[1] += acc[r][1];
        }
        return;
    }
    REAL t[GEMM_MR][GEMM_NR];
    memcpy(t, acc, sizeof t);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) c[r * ldc + j] = overwrite ? t[r][j] : c[r * ldc + j] + t[r][j];
}

/* Thread t of T: C (M, N) = op(A) · op(B) [+ C] over its own rectangle of MR × NR tiles, row
 * tiles [t0, t1) × column tiles [u0, u1), with its own buffers Bp (KC, NC) and Ap (MC, KC).
 * Threads share nothing but the inputs, so there is no barrier: a thread that the OS puts to
 * sleep delays only the final join. The buffers come in as arguments: left to find its
 * thread-local addresses itself, GCC recomputes them inside the micro-kernel loop. */
GEMM_CLONES
static void gemm_blocked(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                         int transA, int transB, int accumulate, REAL *Bp, REAL *Ap, int t, int T) {
    const int64_t mt = (M + GEMM_MR - 1) / GEMM_MR, nt = (N + GEMM_NR - 1) / GEMM_NR;
    /* Split the columns when there are enough: each thread then packs only its own part of B.
       Else split the rows; every thread packs all of B, which is then narrow. */
    int64_t t0 = 0, t1 = mt, u0 = 0, u1 = nt;
    if (nt >= 2 * T || nt >= mt) u0 = nt * t / T, u1 = nt * (t + 1) / T;
    else t0 = mt * t / T, t1 = mt * (t + 1) / T;
    /* Even K blocks (784 gives 4 × 196, not 3 × 256 + 16); they depend on K alone, which is
       what makes the sums the same for any T. */
    const int64_t nkb = (K + GEMM_KC - 1) / GEMM_KC, kb = (K + nkb - 1) / nkb;
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
                for (int64_t ir = ic; ir < ie; ir++) {
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
                        gemm_micro(C + i0 * N + j0, N, Ap + (ir - ic) * kc * GEMM_MR, bp, kc, mr, nr,
                                   overwrite);
                    }
                }
            }
        }
    }
}

void FN(sia_gemm)(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                  int transA, int transB, int accumulate, int nthreads) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) memset(C, 0, (size_t)(M * N) * sizeof(REAL));
        return;
    }
    const double work = (double)M * (double)N * (double)K;
    if (work < GEMM_SMALL_WORK || M < GEMM_MR || (4 * N < GEMM_NR && transB && !transA)) {
        gemm_small(C, A, B, M, N, K, transA, transB, accumulate);
        return;
    }
#if defined(_OPENMP)
    if (nthreads > 1 && work >= GEMM_THREAD_WORK) {
#pragma omp parallel num_threads(nthreads)
        gemm_blocked(C, A, B, M, N, K, transA, transB, accumulate, gemm_bpack, gemm_apack,
                     omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#endif
    gemm_blocked(C, A, B, M, N, K, transA, transB, accumulate, gemm_bpack, gemm_apack, 0, 1);
}
