/* dense.c (template, see real.h): the fully connected layer. */

/* inp (B, n_in), W (n_out, n_in), b (n_out), out (B, n_out): out = inp Wᵀ + b. */
void FN(sia_dense_forward)(REAL *out, const REAL *inp, const REAL *W, const REAL *b,
                           int64_t B, int64_t n_in, int64_t n_out, int nthreads) {
    for (int64_t r = 0; r < B; r++) memcpy(out + r * n_out, b, (size_t)n_out * sizeof(REAL));
    FN(sia_gemm)(out, inp, W, B, n_out, n_in, 0, 1, 1, nthreads);
}

/* Forward was out[r,o] = Σ_i inp[r,i] W[o,i] + b[o], so
 *   dW[o,i] += Σ_r dout[r,o] inp[r,i]   (doutᵀ inp)
 *   db[o]   += Σ_r dout[r,o]
 *   dinp[r,i] += Σ_o dout[r,o] W[o,i]   (dout W). */
void FN(sia_dense_backward)(REAL *dinp, REAL *dW, REAL *db, const REAL *dout, const REAL *inp,
                            const REAL *W, int64_t B, int64_t n_in, int64_t n_out, int nthreads) {
    FN(sia_gemm)(dW, dout, inp, n_out, n_in, B, 1, 0, 1, nthreads);
    for (int64_t r = 0; r < B; r++) {
        const REAL *d = dout + r * n_out;
        for (int64_t o = 0; o < n_out; o++) db[o] += d[o];
    }
    if (dinp) FN(sia_gemm)(dinp, dout, W, B, n_in, n_out, 0, 0, 1, nthreads);
}
