/* noise.c (template, see real.h): input corruption for denoising, drawn from the passed rng.
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
