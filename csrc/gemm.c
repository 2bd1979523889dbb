/* gemm.c (template, see real.h): the matrix product under every dense layer.
 * C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C].
 *
 * Three paths, chosen from the shape alone (never from nthreads), so a given shape always takes
 * the same arithmetic:
 *   - tiny: operands that fit in L1 and K in one block, as in the layers of the letters model
 *     and of the digits VAE (M = batch <= ~100, N, K <= ~64). No blocking, no packing of A, and
 *     B packed only when it must be (transposed, or rows that are not whole vectors); tiles of
 *     6 × NR with edge tiles cut to size instead of padded. No threads: it is microseconds.
 *   - small: plain loops, no packing, no threads, no buffers, for vector-matrix products
 *     (M < 4) and other slivers.
 *   - blocked: GotoBLAS/BLIS style. For each (jc, pc) block, a KC × NC slab of op(B) is packed
 *     into NR-wide micro-panels (one pair of vectors per k), and an MC × KC block of op(A) into
 *     MR-row micro-panels (MR scalars per k, broadcast one at a time). An MR × NR micro-kernel
 *     keeps its tile of C in 2·MR vector registers while it runs over kc.
 *
 *   for jc in my columns, step NC        B slab (KC × NC) in L2/L3
 *     for pc in K, step KC               one partial sum per C element and pc block
 *       pack op(B)[pc, jc] -> Bp
 *       for ic in my rows, step MC       pack op(A)[ic, pc] -> Ap: stays in L2
 *         for jr in jc block, step NR    B micro-panel (KC × NR) stays in L1
 *           for ir in ic block, step MR  micro-kernel: C tile (MR × NR) in registers
 *
 * Threads (pool.c) claim tasks, strips of C's tiles (by columns when there are enough), one at
 * a time from a shared counter, and run the loops above on them with their own buffers; the
 * caller claims too, and does them all if no worker gets the CPU. Strips of columns all read
 * all of op(A): a first run of tasks packs it once into the caller's shared buffer (when it
 * fits), instead of every strip packing its own copy. Every C element is the FMA
 * chain over k inside each pc block, added to C block by block in pc order. The pc blocks
 * depend on K alone, so none of that depends on which thread computes the tile: results are
 * bit-identical for any nthreads.
 *
 * Vector widths. The kernels (gemm_body.c) are written once over a vector of GEMM_VBYTES bytes
 * and compiled three times into this file (real.h includes it once per REAL):
 *   avx512    64-byte vectors, x86-64-v4 (AVX-512 F/BW/DQ/VL): MR = 12 rows × 2 vectors = 24 of
 *             the 32 zmm registers as accumulators, 2 for B, the A broadcasts from memory;
 *   avx2      32-byte vectors, x86-64-v3 (AVX2 + FMA): MR = 6 rows × 2 vectors, 12 of 16 ymm;
 *   baseline  32-byte vectors in plain x86-64 (two SSE2 halves each, no FMA), or on other CPUs.
 * sia_gemm calls the one that sia_simd_path() names: the widest the CPU has, chosen once when the
 * module loads, or a narrower one forced with SIA_SIMD (simd.c). avx512 runs only the products
 * that avx2 would block; the tiny and small ones (where 16 or 8 lanes of padding cost more than
 * the wider FMAs gain: the letters model ran 15% slower) go to avx2's kernels. KC and the pc
 * blocks are the same on every path, so the blocked path's sums (one FMA chain per pc block)
 * are the same bits on avx512 and avx2: the two paths give the same results. The baseline's
 * separate multiply and add round differently. conv.c's panel micro-kernels (conv_body.c) follow
 * sia_simd too: avx512's vreal_avx512 (64 bytes) when it names avx512, else the 32-byte vreal
 * of their GEMM_CLONES, with the same bits; the other loops of conv.c, dense.c and pooling.c are
 * clones over the 32-byte vreal that the loader picks from the CPU. */

#define GEMM_INLINE static inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi" /* vectors cross only always-inlined helpers */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GEMM_X86 1
/* conv.c and pooling.c's loops: one clone per path, picked by the loader. */
#define GEMM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GEMM_X86 0
#define GEMM_CLONES
#endif

/* Block sizes shared by every path (MR, NR, VL and NC: gemm_body.c).
   KC × NR × sizeof(REAL) = 16 KB: an avx2 B micro-panel fits in a 32 KB L1 next to an A one.
   An avx512 one is 32 KB, the whole L1, so part of it streams from L2: at 24 FMAs per 2 vector
   loads of B per k that costs nothing measurable (B's products: 86% of the FMA peak either
   way, on an AMD EPYC family 25), and KC stays the same on every path for the same bits. MC × KC × sizeof(REAL) = 120 KB (float) or 240 KB (double): the A block stays in
   the 512 KB+ L2 (MC is a multiple of both MRs). KC × NC × sizeof(REAL) <= 1 MB: the packed B
   slab, per calling thread. */
enum {
    GEMM_KC = 256,
    GEMM_MC = 120,
    GEMM_BPACK = (1 << 20) / sizeof(REAL),
};

/* Past the tiny path's shapes (gemm_tiny_fits), the blocked path wins from a few thousand
   multiply-adds on, even padding a sliver of columns to NR, except for fewer rows than
   GEMM_SMALL_M (a vector-matrix product, where packing B costs as much as using it) and for a
   sliver of columns that the small path gets as contiguous dot products. Both thresholds are
   the same on every path, so a shape takes the same arithmetic on avx512 and avx2. Threads start
   at GEMM_THREAD_WORK multiply-adds, ~100 µs on one core: each of 2 threads then gets ~50 µs,
   well above the few µs of waking a worker. */
#define GEMM_SMALL_WORK 2048.0
#define GEMM_SMALL_M 6
#define GEMM_SLIVER_N (8 / (int64_t)sizeof(REAL)) /* columns: 2 floats, 1 double */
#define GEMM_THREAD_WORK SIA_THREAD_WORK /* sia.h: also where steps go data-parallel */
#define GEMM_TASKS_PER_THREAD 2
/* op(A) up to this many bytes is read in place by the micro-kernel instead of packed. */
#define GEMM_INPLACE_A 16384.0
/* Tiny path: tiles of GEMM_TINY_MR rows × NR columns (12 accumulators), for products of at
   least GEMM_TINY_MIN_M rows whose op(A) and op(B) each fit in GEMM_TINY_BYTES (L1 is 32 KB). */
#define GEMM_TINY_MR 6
#define GEMM_TINY_MIN_M 4
#define GEMM_TINY_BYTES 32768.0

/* Each thread's packed B slab and packed A block, for whichever path runs.
   Thread-local, so concurrent callers and the threads of one call never share them. */
static _Thread_local REAL gemm_bpack[GEMM_BPACK] __attribute__((aligned(64)));
static _Thread_local REAL gemm_apack[GEMM_MC * GEMM_KC] __attribute__((aligned(64)));

/* The three paths. gemm_body.c names everything it defines with GEMM_SFX appended. */
#if GEMM_X86
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define GEMM_VBYTES 64
#define GEMM_SFX _avx512
#include "gemm_body.c"
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define GEMM_VBYTES 32
#define GEMM_SFX _avx2
#include "gemm_body.c"
#pragma GCC pop_options
#endif
/* The baseline last and without a suffix: its vreal, GEMM_VL, gemm_tail_x and gemm_dot_rows
   (32-byte vectors) are the ones that dense.c and conv.c inline into their own clones (conv.c's
   64-byte kernels take vreal_avx512 from the avx512 path above). */
#define GEMM_VBYTES 32
#define GEMM_SFX
#define GEMM_KEEP_NAMES
#include "gemm_body.c"

void FN(sia_gemm)(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                  int transA, int transB, int accumulate, int nthreads) {
    switch (sia_simd) {
#if GEMM_X86
    case SIA_SIMD_AVX512: {
        /* 64-byte vectors for the products that avx2 would block; the tiny and small ones
           (a letters layer is 25 or 10 columns wide) waste fewer lanes in avx2's kernels, and
           so do blocked ones of at most one avx2 panel of columns (2 · 32 bytes: 16 floats),
           which avx512's panels would pad to twice or more (workload F's Dense 16, 128 × 3136
           by 3136 × 16: 0.36 ms on avx512, 0.23 on avx2; its Dense 3136 from the 2-D latent,
           dW 3136 × 2 and din 128 × 2: 0.32 and 0.36 ms, 0.21 and 0.23). The same bits. */
        const double work = (double)M * (double)N * (double)K;
        if (M > 0 && N > 2 * 32 / (int64_t)sizeof(REAL) && K > 0 && !gemm_tiny_fits_avx2(M, N, K, work) &&
            !gemm_small_fits_avx2(M, N, transA, transB, work)) {
            gemm_run_avx512(C, A, B, M, N, K, transA, transB, accumulate, nthreads);
            return;
        }
    }
    /* fall through */
    case SIA_SIMD_AVX2: gemm_run_avx2(C, A, B, M, N, K, transA, transB, accumulate, nthreads); return;
#endif
    default: gemm_run(C, A, B, M, N, K, transA, transB, accumulate, nthreads);
    }
}
