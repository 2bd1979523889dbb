/* noise.c (template, see real.h): input corruption for denoising, drawn from the passed rng,
 * and the Dropout and GaussianNoise layer kinds.
 *   salt-and-pepper(p)  with probability p, x = 0 or 1 (each half the time)
 *   bit flip(p)         with probability p, x = 1 - x
 *   Gaussian(σ)         x = clip(x + σ N(0, 1), 0, 1) */

void FN(sia_noise_apply)(REAL *x, int64_t n, int kind, double level, sia_rng *rng) {
    if (kind == SIA_NOISE_SALT_PEPPER) {
        for (int64_t i = 0; i < n; i++)
            if (sia_rng_uniform(rng) < level) x[i] = (REAL)(sia_rng_next(rng) >> 63);
    } else if (kind == SIA_NOISE_BIT_FLIP) {
        for (int64_t i = 0; i < n; i++)
            if (sia_rng_uniform(rng) < level) x[i] = 1 - x[i];
    } else if (kind == SIA_NOISE_GAUSSIAN) {
        for (int64_t i = 0; i < n; i++) {
            REAL y = x[i] + (REAL)(level * sia_rng_normal(rng));
            x[i] = y < 0 ? 0 : (y > 1 ? 1 : y);
        }
    }
}

/* ---- Dropout and GaussianNoise: element-wise, active in training only ----
 * noise (B, n) holds this step's numbers for the layer (drawn by the trainer, train.c):
 *   Dropout        the multipliers m = [u >= rate] / (1 - rate) of uniforms u (inverted dropout:
 *                  the expected output is the input, so inference is the identity)
 *   GaussianNoise  σ ε, ε ~ N(0, 1)
 * noise NULL (inference, or a loss without random numbers): z = in, din = dz. */

static int64_t FN(elementwise_scratch)(const sia_layer *l, int64_t B) { return 0; }

/* in, z (B, n): z = in · m. */
static void FN(dropout_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                                const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    const int64_t n = B * sia_layer_n_in(l);
    if (!noise) memcpy(z, in, (size_t)n * sizeof(REAL));
    else for (int64_t i = 0; i < n; i++) z[i] = in[i] * noise[i];
}

/* Forward was z = in · m, so din = dz · m. */
static void FN(dropout_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                                 const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                                 int64_t B, REAL *scratch, int accumulate, int nthreads) {
    const int64_t n = B * sia_layer_n_in(l);
    if (!din) return;
    if (!noise) memcpy(din, dz, (size_t)n * sizeof(REAL));
    else for (int64_t i = 0; i < n; i++) din[i] = dz[i] * noise[i];
}

/* in, z (B, n): z = in + σ ε. */
static void FN(gnoise_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                               const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    const int64_t n = B * sia_layer_n_in(l);
    if (!noise) memcpy(z, in, (size_t)n * sizeof(REAL));
    else for (int64_t i = 0; i < n; i++) z[i] = in[i] + noise[i];
}

/* Forward was z = in + σ ε, so din = dz. */
static void FN(gnoise_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                                const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                                int64_t B, REAL *scratch, int accumulate, int nthreads) {
    if (din) memcpy(din, dz, (size_t)(B * sia_layer_n_in(l)) * sizeof(REAL));
}
