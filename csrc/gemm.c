/* gemm.c (template, see real.h): the matrix product under every dense layer.
 * C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C]. Reference version: loops ordered so that the
 * innermost one runs over contiguous memory. */

void FN(sia_gemm)(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                  int transA, int transB, int accumulate, int nthreads) {
    (void)nthreads;
    if (!accumulate) memset(C, 0, (size_t)(M * N) * sizeof(REAL));
    if (transB) {
        /* C[i,j] += Σ_k op(A)[i,k] B[j,k]: a dot product over contiguous rows of B. */
        for (int64_t i = 0; i < M; i++) {
            for (int64_t j = 0; j < N; j++) {
                const REAL *b = B + j * K;
                REAL s = 0;
                if (transA) for (int64_t k = 0; k < K; k++) s += A[k * M + i] * b[k];
                else        for (int64_t k = 0; k < K; k++) s += A[i * K + k] * b[k];
                C[i * N + j] += s;
            }
        }
        return;
    }
    /* C[i,:] += Σ_k op(A)[i,k] B[k,:]: axpy over contiguous rows of B and C. */
    for (int64_t i = 0; i < M; i++) {
        REAL *c = C + i * N;
        for (int64_t k = 0; k < K; k++) {
            REAL a = transA ? A[k * M + i] : A[i * K + k];
            const REAL *b = B + k * N;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}
